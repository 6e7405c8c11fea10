"""Hostile and broken submissions, each with the verdict it must get.

Every case runs the real `drill grade --format json` on a workspace of the small
torch-free kata, with the kata folder, the history store and a home directory of the
test's own. For each one: the grade is "not passed" (or, for the type-check evasions,
the types check fails) with a reason that names what happened; the grader returns
within its deadline; and nothing outside the grade's private directory changes: the
workspace, the kata folder and the home directory hash the same before and after, and
the history store keeps its earlier rows and gains exactly the new grade.

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
from grader.worker import landlock
from grader.paths import cache_dir
from grader.report import Check, Report
from tests.conftest import FIXTURE_KATAS

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
GRADE_DEADLINE_S = 150  # the toy kata's suite deadline is 60 s; mypy and measuring add to it


@dataclass(frozen=True)
class Verdict:
    reason: str  # a regular expression the report's reasons must match
    check: str = "passed"  # "passed": the grade is not passed; "types": the types check fails


CATALOGUE: dict[str, Verdict] = {
    "exit_zero_at_import": Verdict(r"exited with status 0 before finishing"),
    "sys_exit_at_import": Verdict(r"SystemExit"),
    "exit_zero_in_call": Verdict(r"exited with status 0 before finishing"),
    "sys_exit_in_call": Verdict(r"SystemExit"),
    "endless_loop": Verdict(r"did not finish within its 5 s timeout"),
    "busy_import": Verdict(r"importing the suite \(and solution\.py\) took longer than 10 s"),
    "allocate_30gb": Verdict(r"MemoryError"),
    "fork_bomb": Verdict(r"started more than 15 processes"),
    "spawn_subprocess": Verdict(r"Permission denied: '/bin/sh'"),
    "network_connection": Verdict(r"PermissionError|Permission denied"),
    "write_home": Verdict(r"Permission denied: '.*planted\.txt'"),
    "write_kata_folder": Verdict(r"does not let solutions read .*test_top_k\.py|Permission denied"),
    "write_workspace": Verdict(r"Permission denied: '.*solution\.py'"),
    "write_history": Verdict(r"does not let solutions read .*history\.sqlite3"),
    "read_hidden_tests": Verdict(r"hidden tests fail"),
    "import_reference": Verdict(r"solution imports 'reference'"),
    "load_model_answer": Verdict(r"does not let solutions read .*model_answer\.py"),
    "patch_pytest_reports": Verdict(r"tampered with"),
    "files_beside_the_solution": Verdict(r"hidden tests fail"),
    "type_ignore_everywhere": Verdict(r"were not honoured", check="types"),
    "relaxed_mypy_config": Verdict(r"Function is missing a type annotation", check="types"),
    "swallow_timeout": Verdict(r"timeout"),
    "threads_left_running": Verdict(r"did not exit after(wards)? the suite|threads left running"),
    "flood_output": Verdict(r"File too large|SIGXFSZ|too much output"),
    "segfault_ctypes": Verdict(r"SIGSEGV"),
    "unbounded_recursion": Verdict(r"RecursionError"),
    "kill_the_grader": Verdict(r"PermissionError|Operation not permitted"),
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
    assert len(CATALOGUE) >= 15


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


def seed_history(grade_count: int = 2) -> None:
    store = History()
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
    katas = tmp_path / "katas"
    kata = katas / "top-k-indices"
    shutil.copytree(FIXTURE_KATAS / "top-k-indices", kata)
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
    os.environ["DRILL_HOME"] = str(data)  # the history seeded below lives where drill will look
    seed_history()
    history_file = data / "history.sqlite3"
    started = subprocess.run(
        [sys.executable, "-m", "drills", "start", "top-k-indices", "--dir", str(ws)],
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
    verdict = CATALOGUE[name]
    if verdict.check == "passed":
        assert report["passed"] is False and graded.returncode == 1
        assert re.search(verdict.reason, reasons(report)), reasons(report)[:3000]
    else:
        types = report["checks"]["types"]
        assert types["status"] == "fail"
        assert re.search(verdict.reason, types["reason"]), types["reason"]

    assert (tree_hash(ws, skip=(".drill/",)), tree_hash(kata), tree_hash(home)) == before
    rows_after = History(history_file).rows(limit=100)
    assert rows_after[1:] == rows_before and len(rows_after) == len(rows_before) + 1
    assert not marker.exists(), "a file from the workspace was executed"
    assert server.connections == 0, "the submission reached the network"
    if name == "read_hidden_tests":
        hidden_source = (kata / "hidden" / "test_top_k.py").read_text()
        assert "def slow(xs" in hidden_source
        assert "def slow(xs" not in graded.stdout + graded.stderr, (
            "the report leaked the hidden suite"
        )
