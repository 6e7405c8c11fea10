"""Hostile and broken submissions, each with the verdict it must get.

Every case runs the real `drill grade --format json` on a workspace of a kata (the
small torch-free one, or sampling for attacks on tensors), with the kata folder, the
history store and a home directory of the test's own. For each one: the grade gets
its verdict (not passed, or a named check failed and scored nothing, or passed for a
correct answer whose misbehaviour was contained) with a reason that names what
happened; the grader returns within its deadline; nothing outside the grade's private
directory changes (the workspace, the kata folder and the home directory hash the same
before and after, and the history store keeps its earlier rows and gains exactly the
new grade); and no process the submission started outlives the grade.

Each hostile case bounds itself (the fork bomb forks 40 times, loops give up after
120 s, the allocation is refused by the data-size limit), so a grader bug cannot hurt
the machine that runs these tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.history import History
from grader.paths import BUILTIN_KATAS, cache_dir
from grader.report import Check, Report
from grader.wording import printable
from grader.worker import landlock
from tests.conftest import FIXTURE_KATAS

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
GRADE_DEADLINE_S = 150  # the toy kata's suite deadline is 60 s; mypy and measuring add to it


@dataclass(frozen=True)
class Verdict:
    reason: str  # a regular expression the report's reasons must match
    # "passed": the grade is not passed; "types", "memory", "speed": that check fails and
    # scores nothing; "ok": the grade passes (a correct answer, its misbehaviour contained)
    check: str = "passed"
    kata: str = "top-k-indices"


HIDDEN_FAIL = r"hidden tests fail"
DENIED = r"Permission denied|PermissionError"

CATALOGUE: dict[str, Verdict] = {
    # Ending the process, or hanging it.
    "exit_zero_at_import": Verdict(
        r"importing solution\.py: the solution's process exited with status 0"
    ),
    "sys_exit_at_import": Verdict(r"importing solution\.py raised SystemExit"),
    "exit_zero_in_call": Verdict(r"the solution's process exited with status 0"),
    "sys_exit_in_call": Verdict(r"the solution raised SystemExit"),
    "endless_loop": Verdict(r"did not finish within its 5 s timeout"),
    "busy_import": Verdict(r"importing solution\.py took longer than 10 s"),
    "swallow_timeout": Verdict(r"did not finish within its 5 s timeout"),
    "segfault_ctypes": Verdict(r"SIGSEGV"),
    "unbounded_recursion": Verdict(r"RecursionError"),
    # Resources.
    "allocate_30gb": Verdict(r"MemoryError"),
    "fork_bomb": Verdict(r"started more than 15 processes"),
    "flood_output": Verdict(r"output is capped at 64 MiB"),
    "threads_left_running": Verdict(r"", check="ok"),
    # Correct, but every worker it runs in starts processes: the measured ones are stopped.
    "detached_survivor": Verdict(r"started another process while being measured", check="memory"),
    # Reaching outside the worker.
    "spawn_subprocess": Verdict(DENIED),
    "network_connection": Verdict(DENIED),
    "write_home": Verdict(DENIED),
    "write_kata_folder": Verdict(DENIED),
    "write_workspace": Verdict(DENIED),
    "write_history": Verdict(DENIED),
    "write_dev_shm": Verdict(DENIED),
    "decode_bomb": Verdict(r"a list or dict longer than \d+ entries"),
    "read_hidden_tests": Verdict(r"importing solution\.py raised PermissionError"),
    "read_through_proc": Verdict(r"probe: hidden source not found in \d+ readable files"),
    "symlink_to_the_kata": Verdict(DENIED),
    "kill_the_grader": Verdict(r"PermissionError|Operation not permitted"),
    "signal_the_judge": Verdict(HIDDEN_FAIL),
    # Borrowing an answer.
    "import_reference": Verdict(r"solution imports 'reference'"),
    "resolve_reference": Verdict(DENIED),
    "load_model_answer": Verdict(r"importing solution\.py raised PermissionError"),
    "import_hidden_oracle": Verdict(
        r"importing solution\.py raised (PermissionError|ModuleNotFoundError)"
    ),
    # Tampering with the judge.
    "patch_pytest_reports": Verdict(HIDDEN_FAIL),
    "patch_pytest_runtest": Verdict(HIDDEN_FAIL),
    "replace_result_sender": Verdict(HIDDEN_FAIL),
    "files_beside_the_solution": Verdict(HIDDEN_FAIL),
    "forge_channel_records": Verdict(r"malformed reply"),
    "malformed_frames": Verdict(r"malformed reply"),
    "oversized_reply": Verdict(r"over the limit"),
    # Driving the terminal (or breaking the JUnit file) of whoever reads the grade.
    "terminal_escapes": Verdict(r"ValueError: \\x1b\]0;drill-title\\x07\\x1b\]52;c;"),
    "tensor_subclass_always_equal": Verdict(HIDDEN_FAIL, kata="sampling"),
    "patch_torch_asserts": Verdict(HIDDEN_FAIL, kata="sampling"),
    "argmax_while_timed": Verdict(
        r"the draws do not follow the probabilities", check="speed", kata="sampling"
    ),
    # Points not earned: measurements and types.
    "hide_memory": Verdict(r"peak .* is .*x the reference's", check="memory"),
    "helper_burns_cpu": Verdict(r"a measured worker runs alone", check="speed"),
    "memory_ballast_at_import": Verdict(
        r"importing and setting up kept .* resident before the measured calls", check="memory"
    ),
    "ballast_within_setup_budget": Verdict(
        r"import, setup and the calls together peaked at .*memory held before the calls counts",
        check="memory",
        kata="kv-cache",
    ),
    "limit_other_processes": Verdict(
        r"PermissionError: refused on the parent: prlimit, setpriority, sched_setaffinity, ioprio_set"
    ),
    "udp_datagram": Verdict(DENIED),
    "unix_socket_to_a_daemon": Verdict(DENIED),
    "keyring_channel": Verdict(
        r"PermissionError: \[Errno 1\] the keyrings: Operation not permitted"
    ),
    "immutable_folder": Verdict(
        r"PermissionError: \[Errno 1\] FS_IOC_SETFLAGS: Operation not permitted"
    ),
    "root_capabilities": Verdict(
        r"PermissionError: no capabilities, and sethostname: Operation not permitted"
    ),
    "slow_and_cached": Verdict(r"slower than the reference", check="speed"),
    "type_ignore_everywhere": Verdict(r"were not honoured", check="types"),
    "relaxed_mypy_config": Verdict(r"Function is missing a type annotation", check="types"),
    "no_type_check": Verdict(r"@typing\.no_type_check switches mypy off", check="types"),
    "type_checking_stubs": Verdict(r"defined under `if TYPE_CHECKING:`", check="types"),
    "assert_not_type_checking": Verdict(
        r"code after `assert not TYPE_CHECKING` is unreachable to mypy",
        check="types",
        kata="sampling",
    ),
    "exec_defined_entrypoints": Verdict(
        r"filter_logits is bound by an assignment, not by a def or class",
        check="types",
        kata="sampling",
    ),
    "one_line_exec_rewrite": Verdict(
        r"over the budget of 8: a rewrite is not a fix", check="diff", kata="bug-hunt-sampling"
    ),
}


# Cases that run into the suite's timeouts get a copy of the toy kata with shorter ones
# (the verdict is the same; waiting out 20 s per test and a 60 s deadline is not).
SHORT_TIMEOUTS = {"endless_loop", "swallow_timeout", "busy_import"}


def shorten_timeouts(kata: Path) -> None:
    manifest = kata / "kata.yaml"
    text = manifest.read_text()
    assert "timeout_s: 20\n" in text and "deadline_s: 60\n" in text, "the toy kata's timeouts moved"
    manifest.write_text(
        text.replace("timeout_s: 20\n", "timeout_s: 5\n").replace(
            "deadline_s: 60\n", "deadline_s: 20\n"
        )
    )


def test_the_catalogue_covers_every_submission() -> None:
    assert sorted(CATALOGUE) == sorted(p.stem for p in SUBMISSIONS.glob("*.py"))
    assert len(CATALOGUE) >= 40


SURVIVOR = "drill-survivor"


def survivors(token: str) -> list[str]:
    """Processes still alive that a grade started: named as the submissions name their
    leftovers, or running from inside this test's folder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if comm == SURVIVOR or token in cwd:
            found.append(f"{pid} {comm} {cwd}")
    return found


def tree_hash(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(skip):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class LoopbackServer:
    """A TCP listener on 127.0.0.1 that records whether anyone connected."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def reasons(report: dict[str, object]) -> str:
    """Every reason in the report, in one string (checks, then each test)."""
    checks = report["checks"]
    tests = report["tests"]
    assert isinstance(checks, dict) and isinstance(tests, list)
    parts = [str(c.get("reason", "")) for c in checks.values()]
    parts += [str(t["reason"]) for t in tests]
    return "\n".join(parts)


def write_workspace_extras(name: str, ws: Path, marker: Path) -> None:
    if name == "files_beside_the_solution":
        code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        (ws / "conftest.py").write_text(code)
        (ws / "sitecustomize.py").write_text(code)
        (ws / "evil.pth").write_text(
            f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
        )
    if name == "relaxed_mypy_config":
        (ws / "mypy.ini").write_text(
            "[mypy]\nstrict = False\nignore_errors = True\nplugins = evil_plugin\n"
        )
        (ws / "pyproject.toml").write_text("[tool.mypy]\nstrict = false\nignore_errors = true\n")
        (ws / "evil_plugin.py").write_text(
            f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\ndef plugin(version): return None\n"
        )


def seed_history(path: Path, grade_count: int = 2) -> None:
    store = History(path)
    for i in range(grade_count):
        report = Report(
            kata="top-k-indices",
            score=40.0 + i,
            passed=False,
            elapsed_s=60.0,
            limit_s=600.0,
            hints_taken=0,
            checks={"tests": Check("tests", "fail", reason="seed")},
            pass_mark=80,
            graded_at=f"2026-01-0{i + 1}T00:00:00+00:00",
        )
        store.record(f"seed{i}", Path("/seed"), report)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_hostile_submission_gets_its_verdict_and_changes_nothing(name: str, tmp_path: Path) -> None:
    if name == "kill_the_grader" and landlock.abi_version() < 6:
        pytest.skip(
            "signal scoping needs Landlock ABI 6 (Linux 6.12+); without it this case could kill the runner"
        )
    verdict = CATALOGUE[name]
    katas = tmp_path / "katas"
    kata = katas / verdict.kata
    source_kata = FIXTURE_KATAS / "top-k-indices" if verdict.kata == "top-k-indices" else None
    shutil.copytree(source_kata or BUILTIN_KATAS / verdict.kata, kata)
    if name in SHORT_TIMEOUTS:
        shorten_timeouts(kata)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".profile").write_text("# the user's own file\n")
    data = tmp_path / "data"
    ws = tmp_path / "ws"
    marker = tmp_path / "marker"
    env = {
        **os.environ,
        "DRILL_KATAS": str(katas),
        "DRILL_HOME": str(data),
        "HOME": str(home),
        "DRILL_NO_WARM": "1",
        "DRILL_CACHE": str(cache_dir()),  # keep the warm mypy cache out of the fake home
    }
    history_file = data / "history.sqlite3"
    seed_history(history_file)
    started = subprocess.run(
        [sys.executable, "-m", "drills", "start", verdict.kata, "--dir", str(ws)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    server = LoopbackServer()
    try:
        source = (SUBMISSIONS / f"{name}.py").read_text()
        for token, value in {
            "@@HOME@@": str(home),
            "@@KATA@@": str(kata),
            "@@WORKSPACE@@": str(ws),
            "@@HISTORY@@": str(history_file),
            "@@PORT@@": str(server.port),
            "@@MODEL_ANSWER_LITERAL@@": repr((kata / "model_answer.py").read_text()),
            "@@MODEL_ANSWER@@": (kata / "model_answer.py").read_text(),
            "@@STARTER@@": (kata / "starter" / "solution.py").read_text(),
        }.items():
            source = source.replace(token, value)
        (ws / "solution.py").write_text(source)
        write_workspace_extras(name, ws, marker)
        before = (tree_hash(ws, skip=(".drill/",)), tree_hash(kata), tree_hash(home))
        rows_before = History(history_file).rows(limit=100)

        start = time.monotonic()
        graded = subprocess.run(
            [sys.executable, "-m", "drills", "grade", "--format", "json", "--dir", str(ws)],
            env=env,
            capture_output=True,
            text=True,
            timeout=GRADE_DEADLINE_S + 30,
            start_new_session=True,
        )
        took = time.monotonic() - start
    finally:
        server.close()

    assert took < GRADE_DEADLINE_S, f"the grade took {took:.0f} s"
    assert graded.returncode in (0, 1), (
        f"grader failed (exit {graded.returncode}): {graded.stderr[-2000:]}"
    )
    report = json.loads(graded.stdout)
    # Whatever a submission printed or raised, the report holds no control character.
    assert printable(reasons(report)) == reasons(report)
    if verdict.check == "passed":
        assert report["passed"] is False and graded.returncode == 1
        assert re.search(verdict.reason, reasons(report)), reasons(report)[:3000]
    elif verdict.check == "ok":
        assert report["passed"] is True and graded.returncode == 0, reasons(report)[:3000]
    else:
        check = report["checks"][verdict.check]
        assert check["status"] == "fail", check
        # A measurement that fails scores nothing; a types check keeps the partial credit
        # that mypy's own errors would get an honest answer, and no more.
        assert check["score"] == 0 if verdict.check != "types" else check["score"] < check["max"]
        assert re.search(verdict.reason, check["reason"]), check["reason"]
    time.sleep(0.5)  # the zygote's last sweep
    assert survivors(str(tmp_path)) == [], "a process outlived the grade"

    assert (tree_hash(ws, skip=(".drill/",)), tree_hash(kata), tree_hash(home)) == before
    rows_after = History(history_file).rows(limit=100)
    assert rows_after[1:] == rows_before and len(rows_after) == len(rows_before) + 1
    assert not marker.exists(), "a file from the workspace was executed"
    assert server.connections == 0, "the submission reached the network"
    if name in ("read_hidden_tests", "read_through_proc"):
        hidden_source = (kata / "hidden" / "test_top_k.py").read_text()
        assert "def slow(xs" in hidden_source
        assert "def slow(xs" not in graded.stdout + graded.stderr, (
            "the report leaked the hidden suite"
        )
