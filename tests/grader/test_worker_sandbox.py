"""A worker, seen from the judge: what crosses, what it can reach, what it leaves behind.

Each test starts a real zygote (without torch, so it takes a fraction of a second)
and a worker serving a small module written by the test, the way a grade does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.judge.remote import Session, SolutionUnavailable, WorkerDied
from grader.paths import BUILTIN_KATAS, off_limits, package_dir
from grader.worker import landlock
from tests.grader.sandboxed import serving

pytestmark = pytest.mark.skipif(
    landlock.abi_version() < 1, reason="the worker's read restrictions need Landlock"
)

PROBE = '''
import os, signal, time, ctypes

def read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read(64).decode("latin-1")

def listdir(path: str) -> list[str]:
    return os.listdir(path)

def write(path: str) -> None:
    with open(path, "w") as f:
        f.write("x")

def detach() -> int:
    """A grandchild in its own session, renamed so the test can look for it."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, b"drill-orphan", 0, 0, 0)
            time.sleep(60)
        os._exit(0)
    return 0

def shared_segment(key: int) -> int:
    """A System V shared memory segment: the id the kernel gave it."""
    return int(ctypes.CDLL(None, use_errno=True).shmget(key, 4096, 0o1000 | 0o600))

def crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)

def double(x: list[int]) -> list[int]:
    x.append(len(x))
    return x

class Counter:
    def __init__(self) -> None:
        self.n = 0
    def add(self, k: int) -> int:
        self.n += k
        return self.n

class Refused(ValueError):
    pass

def refuse() -> None:
    raise Refused("no")

def lone_surrogate(raise_it: bool) -> str:
    if raise_it:
        raise ValueError("half a pair: \\ud800")
    return "half a pair: \\ud800"
'''


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[Session]:
    """A session serving PROBE from a private folder, under the grade's sandbox."""
    with serving(tmp_path, PROBE, [*_ours(), tmp_path / "outside"]) as session:
        yield session


def _ours() -> list[Path]:
    return [p for p in (package_dir(n) for n in ("grader", "reference", "katas")) if p]


def _reference_file() -> Path:
    folder = package_dir("reference")
    assert folder is not None
    return folder / "sampling.py"


def test_values_cross_and_in_place_changes_come_back(probe: Session) -> None:
    sol = probe.module
    mine = [1, 2]
    out = sol.double(mine)
    assert out == [1, 2, 2] and mine == [1, 2, 2]
    counter = sol.Counter()
    assert counter.add(3) == 3 and counter.add(4) == 7 and counter.n == 7


def test_the_solutions_exception_class_is_raised_and_caught_by_its_name(probe: Session) -> None:
    sol = probe.module
    with pytest.raises(sol.Refused, match="no") as caught:
        sol.refuse()
    assert isinstance(caught.value, ValueError)


def test_what_the_wire_cannot_carry_is_said_as_it_is(probe: Session) -> None:
    sol = probe.module
    with pytest.raises(ValueError, match=r"half a pair: \\ud800"):
        sol.lone_surrogate(True)  # the message, written out: not an encoding error
    with pytest.raises(Exception, match="what the solution returned cannot be sent") as caught:
        sol.lone_surrogate(False)
    assert type(caught.value).__name__ == "UnsendableResult"  # not something it raised
    assert "the solution raised" not in str(caught.value)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(lambda: _reference_file(), id="reference-by-path"),
        pytest.param(lambda: Path(f"/proc/self/root{_reference_file()}"), id="via-proc-root"),
        pytest.param(lambda: BUILTIN_KATAS / "sampling" / "model_answer.py", id="model-answer"),
        pytest.param(
            lambda: BUILTIN_KATAS / "sampling" / "hidden" / "oracle.py", id="hidden-oracle"
        ),
    ],
)
def test_the_worker_cannot_read_the_grader_the_reference_or_the_katas(
    probe: Session, path: object
) -> None:
    target = path() if callable(path) else path
    assert Path(str(target)).exists() or str(target).startswith("/proc")
    with pytest.raises(PermissionError):
        probe.module.read(str(target))


def test_a_symlink_in_its_own_folder_does_not_open_the_reference(probe: Session) -> None:
    probe.worker()
    link = probe.spec(probe.generation).folder / "link.py"
    os.symlink(_reference_file(), link)
    with pytest.raises(PermissionError):
        probe.module.read(str(link))


def test_the_worker_can_read_the_interpreter_and_the_solution(
    probe: Session, tmp_path: Path
) -> None:
    sol = probe.module
    assert sol.read(os.__file__)
    assert "def read" in sol.read(str(tmp_path / "grade" / "solution" / "solution.py"))
    assert "output.txt" in sol.listdir(".")  # its own folder


def test_the_worker_reads_the_byte_devices_but_not_the_terminals_or_disks(
    probe: Session,
) -> None:
    sol = probe.module
    assert len(sol.read("/dev/urandom")) == 64
    assert sol.read("/dev/zero") == "\0" * 64
    with pytest.raises(PermissionError):
        sol.listdir("/dev")
    for device in ("/dev/ptmx", "/dev/pts/ptmx", "/dev/tty", "/dev/console"):
        if Path(device).exists():
            with pytest.raises(PermissionError):
                sol.read(device)


def test_the_worker_can_write_only_its_own_folder(probe: Session, tmp_path: Path) -> None:
    sol = probe.module
    sol.write("here.txt")  # its cwd is its own folder
    with pytest.raises(PermissionError):
        sol.write(str(tmp_path / "planted.txt"))
    assert not (tmp_path / "planted.txt").exists()


def test_a_crash_fails_the_call_and_the_next_call_gets_a_fresh_worker(probe: Session) -> None:
    sol = probe.module
    counter = sol.Counter()
    counter.add(1)
    with pytest.raises(WorkerDied, match="SIGSEGV"):
        sol.crash()
    assert sol.Counter().add(2) == 2  # a new worker
    with pytest.raises(WorkerDied, match="has since ended"):
        counter.add(1)  # an object of the old one


def test_nothing_a_worker_detaches_outlives_it(probe: Session) -> None:
    probe.module.detach()
    time.sleep(0.5)  # the zygote sweeps its orphans every poll
    assert not _named("drill-orphan")
    probe.close()


def test_an_import_error_is_every_calls_error(tmp_path: Path, probe: Session) -> None:
    (tmp_path / "grade" / "solution" / "solution.py").write_text("raise RuntimeError('boom')\n")
    probe.close()
    fresh = Session(probe.zygote, probe.spec, import_timeout_s=30)
    for _ in range(2):
        with pytest.raises(SolutionUnavailable, match="raised RuntimeError: boom"):
            fresh.module.anything()


def _named(name: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("entry", ["mem", "environ", "fd/0"])
def test_the_worker_cannot_look_into_the_judges_process(probe: Session, entry: str) -> None:
    # This test's process stands in for the judge: same user, outside the sandbox.
    with pytest.raises(PermissionError):
        probe.module.read(f"/proc/{os.getpid()}/{entry}")


def test_the_worker_cannot_reset_its_own_peak_memory(probe: Session) -> None:
    with pytest.raises(PermissionError):
        probe.module.write("/proc/self/clear_refs")


def test_shared_memory_segments_a_worker_makes_go_with_it(probe: Session) -> None:
    import ctypes

    key = 0x0D7111 + os.getpid() % 1000
    assert probe.module.shared_segment(key) >= 0  # the worker may make one, in its own world
    probe.close()
    libc = ctypes.CDLL(None, use_errno=True)
    seen = libc.shmget(key, 0, 0)  # the machine's namespace: no such key
    if seen >= 0:
        libc.shmctl(seen, 0, None)  # IPC_RMID: never leave it behind
        if os.geteuid() != 0:
            pytest.skip("an IPC namespace of its own needs privileges this machine does not give")
    assert seen < 0, "a worker's shared memory segment outlived it"


def test_a_checkout_on_the_read_roots_opens_neither_its_git_nor_its_tests() -> None:
    # An editable install in compat mode puts the checkout's root on sys.path, which the
    # zygote reads as a read root: git's objects and the tests hold the hidden suites too.
    grader = package_dir("grader")
    assert grader is not None
    root = grader.parent
    if not (root / "pyproject.toml").is_file():
        pytest.skip("drill is installed, not run from a checkout")
    rules = landlock.read_rules([root], off_limits())
    for secret in (root / ".git", root / "tests", root / "katas", root / "grader"):
        opened = [r for r in rules if secret.is_relative_to(r) or r.is_relative_to(secret)]
        assert not opened, f"{secret} is readable through {opened}"
