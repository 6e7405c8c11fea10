"""The fork server: each child is the process a fresh interpreter would have been."""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.forkserver import Forked, ForkServer, ServerError

# The children run `timeit.main()` (its argv: a statement to run once): a module of the
# standard library with a main(), so that these tests need nothing importable of their own.
ONCE = ["-n", "1", "-r", "1"]
REPORT = (
    "import json, os; json.dump({'sid': os.getsid(0), 'pid': os.getpid(), 'cwd': os.getcwd(),"
    " 'env': dict(os.environ), 'fds': sorted(int(f) for f in os.listdir('/proc/self/fd')),"
    " 'ppid': os.getppid()}, open('report.json', 'w'))"
)


@pytest.fixture
def server() -> Iterator[ForkServer]:
    yield ForkServer(["timeit"], lambda: {"PATH": os.environ["PATH"], "PYTHONHASHSEED": "0"})


def spawn(server: ForkServer, folder: Path, statement: str, **fds: int) -> Forked:
    with open(folder / "out.txt", "wb") as out:
        return server.spawn(
            "timeit",
            [*ONCE, statement],
            cwd=str(folder),
            env={"PATH": os.environ["PATH"], "ONLY_HERE": "yes"},
            output=out.fileno(),
            fds=fds,
        )


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_a_child_has_its_own_session_folder_environment_and_output(
    server: ForkServer, tmp_path: Path
) -> None:
    child = spawn(server, tmp_path, REPORT)
    assert child.wait(timeout=60) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pid"] == child.pid
    assert report["sid"] == child.pid
    assert report["cwd"] == str(tmp_path)
    assert report["env"] == {"PATH": os.environ["PATH"], "ONLY_HERE": "yes"}
    assert "loop" in (tmp_path / "out.txt").read_text()  # timeit's own line


def test_a_child_holds_the_descriptors_it_was_given_and_no_other(
    server: ForkServer, tmp_path: Path
) -> None:
    read_end, write_end = os.pipe()
    try:
        child = spawn(server, tmp_path, REPORT, GIVEN_FD=write_end)
    finally:
        os.close(write_end)
    assert child.wait(timeout=60) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    given = int(report["env"]["GIVEN_FD"])
    # 0-2, the one it was given and the listing's own (the report opens after it).
    assert len(report["fds"]) == 5
    assert {0, 1, 2, given} <= set(report["fds"])
    os.close(read_end)


def test_an_exit_status_and_a_death_by_signal_are_reported_as_popen_would(
    server: ForkServer, tmp_path: Path
) -> None:
    assert spawn(server, tmp_path, "import os; os._exit(7)").wait(timeout=60) == 7
    killed = spawn(server, tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.wait(timeout=60) == -signal.SIGKILL
    assert spawn(server, tmp_path, "raise ValueError('no')").wait(timeout=60) == 1
    assert "ValueError: no" in (tmp_path / "out.txt").read_text()


def test_a_child_nobody_waits_for_is_killed_with_its_group(
    server: ForkServer, tmp_path: Path
) -> None:
    child = spawn(server, tmp_path, "import time; time.sleep(120)")
    pid = child.pid
    assert child.poll() is None
    del child
    gc.collect()  # the handle's socket closes: the server kills what it started
    deadline = time.monotonic() + 30
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid)


def test_a_server_whose_imports_fail_says_which(tmp_path: Path) -> None:
    broken = ForkServer(["no_such_module_anywhere"], lambda: {"PATH": os.environ["PATH"]})
    with pytest.raises(ServerError, match="importing no_such_module_anywhere failed"):
        spawn(broken, tmp_path, "pass")


def test_a_server_that_died_is_started_again(server: ForkServer, tmp_path: Path) -> None:
    first = spawn(server, tmp_path, REPORT)
    assert first.wait(timeout=60) == 0
    old_server = json.loads((tmp_path / "report.json").read_text())["ppid"]
    os.kill(old_server, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not gone(old_server) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = spawn(server, tmp_path, REPORT)
    assert second.wait(timeout=60) == 0
    assert json.loads((tmp_path / "report.json").read_text())["ppid"] != old_server
