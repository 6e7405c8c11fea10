"""Faults: the grader killed mid-grade or interrupted leaves the session and history sound."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.history import History
from tests.conftest import FIXTURE_KATAS

# The interrupted grade runs a slow solution, so that the signal lands mid-suite; the
# grades around it run the model answer, so that they finish in seconds.
TOY_FAST = (FIXTURE_KATAS / "top-k-indices" / "model_answer.py").read_text()
TOY_SLOW = (
    "import time\n\n\ndef top_k_indices(xs: list[float], k: int) -> list[int]:\n"
    "    time.sleep(2)\n    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[: max(k, 0)]\n"
)


def start_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    subprocess.run(
        [sys.executable, "-m", "drills", "start", "top-k-indices", "--dir", str(ws)],
        check=True,
        capture_output=True,
    )
    (ws / "solution.py").write_text(TOY_SLOW)
    return ws


def finish_a_fast_grade(ws: Path) -> dict[str, object]:
    (ws / "solution.py").write_text(TOY_FAST)
    try:
        return finish_a_grade(ws)
    finally:
        (ws / "solution.py").write_text(TOY_SLOW)


def grade(ws: Path) -> subprocess.Popen[str]:
    return drill_grade("--dir", str(ws))


def drill_grade(*target: str) -> subprocess.Popen[str]:
    """`drill grade --format json` on `target` (`--dir WS`, `--batch DIR`): a whole grade,
    which history keeps (a partial one it does not)."""
    return subprocess.Popen(
        [sys.executable, "-m", "drills", "grade", "--format", "json", *target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (started from any of its threads)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_for_children(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until the grade has started a child (the tests are running)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if children_of(proc.pid):
            time.sleep(1.0)
            return
        time.sleep(0.1)
    pytest.fail("the grade never started a child")


def finish_a_grade(ws: Path) -> dict[str, object]:
    proc = grade(ws)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), err
    report: dict[str, object] = json.loads(out)
    return report


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name
)
def test_a_grade_stopped_midway_loses_nothing(
    toy_katas_dir: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    ws = start_workspace(tmp_path)
    finish_a_fast_grade(ws)
    rows_before = History().rows()
    assert len(rows_before) == 1

    proc = grade(ws)
    wait_for_children(proc)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground process group
    else:
        proc.send_signal(sig)
    # Promptly: the slow suite would run for half a minute more, and a stage that took
    # its killed child for a crash would start the rest of the suite again.
    _, err = proc.communicate(timeout=20)
    if sig != signal.SIGKILL:
        assert proc.returncode == 130
        assert err.strip().splitlines()[-1].startswith("drill: interrupted")

    session = json.loads((ws / ".drill" / "session.json").read_text())
    assert session["kata"] == "top-k-indices"
    assert History().rows() == rows_before
    report = finish_a_fast_grade(ws)  # a later grade works
    assert report["kata"] == "top-k-indices"
    assert History().rows()[1:] == rows_before


def descendants_of(pid: int) -> list[int]:
    """Every process below `pid`: its children, theirs, and so on."""
    found, todo = [], [pid]
    while todo:
        below = children_of(todo.pop())
        found += below
        todo += below
    return found


def test_every_process_of_a_grade_dies_with_a_killed_grader(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = start_workspace(tmp_path)
    proc = grade(ws)
    # The two fork servers, the judge, the zygote and its worker at least, once the
    # slow suite runs.
    end = time.monotonic() + 120
    while len(below := descendants_of(proc.pid)) < 5 and time.monotonic() < end:
        time.sleep(0.1)
    assert len(below) >= 5, below
    proc.kill()
    proc.communicate(timeout=60)
    time.sleep(1.0)
    alive = [
        pid
        for pid in below
        if Path(f"/proc/{pid}").exists()
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    ]
    assert alive == []


def test_ctrl_c_stops_a_batch_without_grading_what_was_queued(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "class"
    for name in ("ann", "bob", "cy"):
        start_workspace(root / name)
    proc = drill_grade("--batch", str(root), "--workers", "1")
    wait_for_children(proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=20)  # three slow suites in turn would take minutes
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1].startswith("drill: interrupted")
