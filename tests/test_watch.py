"""`drill watch` end to end, in a pseudo-terminal (tests/terminal.py) and in tmux, the way
a person's terminal runs it; and its screen, rendered from a view.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.watch import View, render
from drills.workspace import Session
from grader.kata import load_kata_from
from grader.report import Check, Report
from tests.conftest import FIXTURE_KATAS
from tests.mock.test_tmux import TMUX, Tmux, drill_executable
from tests.terminal import Terminal

MODEL = FIXTURE_KATAS / "top-k-indices" / "model_answer.py"


@pytest.fixture
def ws(toy_katas_dir: Path, tmp_path: Path) -> Path:
    from drills import actions
    from drills.workspace import Mode

    actions.start(
        "top-k-indices", tmp_path / "ws", None, force=False, resume=False, mode=Mode.PRACTICE
    )
    return tmp_path / "ws"


@pytest.fixture
def term(ws: Path) -> Iterator[Terminal]:
    t = Terminal(["watch", "--dir", str(ws)])
    try:
        yield t
    finally:
        t.close()


def session(ws: Path) -> dict[str, object]:
    data = json.loads((ws / ".drill" / "session.json").read_text())
    assert isinstance(data, dict)
    return data


def test_a_save_runs_the_tests_and_the_screen_shows_the_result(ws: Path, term: Terminal) -> None:
    term.wait_for(r"0 passed, 1 failed")
    term.wait_for(r"test_example_from_the_prompt: NotImplementedError: top_k_indices")
    since = term.mark()
    shutil.copyfile(MODEL, ws / "solution.py")
    term.wait_for(r"1 passed, 0 failed at \d\d:\d\d:\d\d", since)
    term.type(b"q")
    assert term.wait() == 0
    last = session(ws)["last_test"]
    assert isinstance(last, dict) and (last["passed"], last["failed"]) == (1, 0)


def test_the_screen_shows_the_clock_and_the_keys(term: Terminal) -> None:
    text = term.wait_for(r"h hint · g grade · q quit")
    assert re.search(r"\dm\d\ds left of 10m00s", text)
    assert "0 taken" in text
    term.type(b"q")
    assert term.wait() == 0


def test_a_hint_is_asked_for_first_and_then_shown(ws: Path, term: Terminal) -> None:
    term.wait_for(r"0 passed, 1 failed")
    term.type(b"h")
    term.wait_for(r"Hint 1 of 3 costs 5 points\. Reveal it\? \[y/N\]")
    since = term.mark()
    term.type(b"n")
    term.wait_for(r"No hint taken; nothing was spent\.", since)
    assert session(ws)["hints"] == []
    term.type(b"h")
    term.wait_for(r"Reveal it\?", since)
    since = term.mark()
    term.type(b"y")
    text = term.wait_for(r"Hint 1/3 \(-5 points\): Think about what to sort by\.", since)
    term.wait_for(r"1 taken \(-5 points\)", since)
    assert len(session(ws)["hints"]) == 1  # type: ignore[arg-type]
    assert "Traceback" not in text
    term.type(b"q")
    assert term.wait() == 0


def test_resizes_redraw_the_screen(term: Terminal) -> None:
    term.wait_for(r"0 passed, 1 failed")
    for rows, cols in [(12, 40), (50, 160), (8, 30), (24, 80)]:
        since = term.mark()
        term.resize(rows, cols)
        term.wait_for(r"drill watch", since)  # a fresh frame at the new size
    term.type(b"q")
    assert term.wait() == 0
    assert "Traceback" not in term.text()


@pytest.mark.skipif(TMUX is None, reason="needs tmux to drive a real terminal")
def test_in_tmux_a_resize_redraws_one_whole_frame_at_the_new_size(ws: Path) -> None:
    tmux = Tmux()
    try:
        tmux.start(f"{drill_executable()} watch --dir {ws}", ws)
        failure = "test_example_from_the_prompt: NotImplementedError: top_k_indices"
        tmux.wait_for(failure)  # one line at 80 columns
        tmux("resize-window", "-t", "main", "-x", "50", "-y", "16")
        # Cropped to 50 columns, the old frame hides the message's end; the new one wraps it.
        tmux.wait_for("NotImplementedError: top_k_indices")
        tmux("resize-window", "-t", "main", "-x", "120", "-y", "40")
        screen = tmux.wait_for(failure)
        assert screen.count("drill watch ·") == 1, screen
        assert screen.count("h hint · g grade · q quit") == 1, screen
        tmux.keys("q")
        tmux.wait_for("EXITED=0")
    finally:
        tmux("kill-server")


def test_ctrl_c_ends_the_watch_with_130(ws: Path, term: Terminal) -> None:
    term.wait_for(r"0 passed, 1 failed")
    term.type(b"\x03")
    assert term.wait() == 130
    assert "interrupted; nothing was lost" in term.text()
    assert (ws / "solution.py").is_file()


def test_the_watch_ends_when_the_workspace_goes(ws: Path, term: Terminal) -> None:
    term.wait_for(r"0 passed, 1 failed")
    shutil.rmtree(ws)
    assert term.wait() == 2
    assert "is no longer a drill workspace" in term.text()


def test_g_grades_and_shows_the_headline_and_failing_checks(term: Terminal) -> None:
    term.wait_for(r"0 passed, 1 failed")
    term.type(b"g")
    text = term.wait_for(r"/100 NOT PASSED")
    text = term.wait_for(r"hidden tests: fail")
    assert "Traceback" not in text
    term.type(b"q")
    assert term.wait() == 0


def test_the_watch_starts_from_the_sessions_last_grade(ws: Path) -> None:
    from drills import actions

    graded = actions.grade(ws, device="auto", only=None).report  # before the watch
    assert not graded.passed
    term = Terminal(["watch", "--dir", str(ws)])
    try:
        text = term.wait_for(r"h hint · g grade · q quit")
        assert "none yet" not in text
        text = term.wait_for(
            rf"grade +{graded.score:.1f}/100 NOT PASSED \(graded at \d\d:\d\d:\d\d\)"
        )
        term.wait_for(r"hidden tests: fail")  # the checks that did not pass, as in the session
        assert "mypy --strict: " not in text  # it passed
        term.type(b"q")
        assert term.wait() == 0
    finally:
        term.close()


def test_quitting_during_a_grade_records_nothing_and_leaves_no_process(
    ws: Path, tmp_path: Path
) -> None:
    from drills.history import History

    # Slow to import: the grade is still running when q comes.
    (ws / "solution.py").write_text("import time\n\ntime.sleep(60)\n" + MODEL.read_text())
    term = Terminal(["watch", "--dir", str(ws)])
    try:
        term.wait_for(r"h hint · g grade · q quit")
        term.type(b"g")
        term.wait_for(r"grading…")
        term.type(b"q")
        assert term.wait() == 0
    finally:
        term.close()
    assert session(ws)["last_grade"] is None
    assert History().rows() == []
    deadline = time.monotonic() + 30
    while (left := _processes_under(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == [], left


def _processes_under(folder: Path) -> list[str]:
    """Command lines that mention `folder` (the watch's zygote, a grade's judges, mypy)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and int(proc.name) != os.getpid() and str(folder) in line:
            found.append(line)
    return found


def test_watch_without_a_terminal_is_one_line_and_exit_2(ws: Path) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "drills", "watch", "--dir", str(ws)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "drill: drill watch needs a terminal; in a script, run `drill test`"
    )


def test_the_screen_marks_overtime_and_lists_what_failed() -> None:
    from io import StringIO

    from rich.console import Console

    kata = load_kata_from(FIXTURE_KATAS / "top-k-indices")
    late = Session(kata=kata.id, started_at="2020-01-01T00:00:00+00:00", limit_s=600)
    report = Report(
        kata=kata.id,
        score=42.0,
        passed=False,
        elapsed_s=700,
        limit_s=600,
        hints_taken=0,
        checks={
            "tests": Check("tests", "fail", reason="2 of 9 hidden tests fail"),
            "types": Check("types", "pass"),
        },
        pass_mark=80,
    )
    out = StringIO()
    Console(file=out, width=80).print(render(View(session=late, report=report), kata, Path("ws")))
    screen = out.getvalue()
    assert "over time (limit 10m00s)" in screen
    assert "42.0/100 NOT PASSED" in screen
    assert "hidden tests: fail, 2 of 9 hidden tests fail" in screen
    assert "mypy --strict" not in screen  # it passed


def test_a_grade_made_elsewhere_since_replaces_the_watchs_own() -> None:
    from io import StringIO

    from rich.console import Console

    kata = load_kata_from(FIXTURE_KATAS / "top-k-indices")
    mine = Report(
        kata=kata.id, score=42.0, passed=False, elapsed_s=60, limit_s=600, hints_taken=0,
        checks={"tests": Check("tests", "fail", reason="2 of 9 hidden tests fail")},
        pass_mark=80, graded_at="2030-01-01T10:00:00+00:00",
    )  # fmt: skip
    later = {
        "at": "2030-01-01T10:05:00+00:00",
        "score": 91.0,
        "passed": True,
        "checks": {"tests": "pass", "speed": "fail"},
    }
    session = Session(
        kata=kata.id, started_at="2030-01-01T09:55:00+00:00", limit_s=3600, last_grade=later
    )

    def screen(view: View) -> str:
        out = StringIO()
        Console(file=out, width=100).print(render(view, kata, Path("ws")))
        return out.getvalue()

    elsewhere = screen(View(session=session, report=mine))
    assert re.search(r"91\.0/100 PASSED \(graded \d{4}-\d\d-\d\d \d\d:\d\d\)", elsewhere)
    assert "speed: fail" in elsewhere and "42.0/100" not in elsewhere
    session.last_grade = {**later, "at": mine.graded_at}  # the watch's own grade, recorded
    own = screen(View(session=session, report=mine))
    assert "42.0/100 NOT PASSED" in own and "hidden tests: fail, 2 of 9 hidden tests fail" in own
