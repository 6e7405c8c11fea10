"""`drill review`: the model answer only after a grade (or a recorded give-up)."""

from __future__ import annotations

import io
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from drills import render
from drills.__main__ import run
from drills.history import History
from drills.mock import interview, store, timeline
from drills.mock.interview import open_mock
from drills.mock.script import DIMENSIONS
from drills.mock.state import fold
from drills.mock.timeline import Event
from drills.review import reference_sources, review
from drills.workspace import Mode, Workspace, now, start
from grader.errors import BadInput
from grader.kata import Kata, load_kata_from
from grader.paths import BUILTIN_KATAS
from grader.report import Check, Report

SAMPLING = load_kata_from(BUILTIN_KATAS / "sampling")


def test_before_a_grade_the_review_is_refused_and_nothing_is_recorded(tmp_path: Path) -> None:
    ws = start(SAMPLING, tmp_path / "ws", 1800, force=False, resume=False).workspace
    with pytest.raises(BadInput, match="grade this attempt first"):
        review(ws, SAMPLING, give_up=False)
    assert ws.load().gave_up_at is None


def test_giving_up_is_recorded_and_shows_the_model_answer(tmp_path: Path) -> None:
    ws = start(SAMPLING, tmp_path / "ws", 1800, force=False, resume=False).workspace
    r = review(ws, SAMPLING, give_up=True)
    assert r.gave_up and ws.load().gave_up_at is not None
    assert r.diff.startswith("--- solution.py\n+++ model_answer.py\n")
    assert "+NEG_INF" in r.diff  # a line only the model answer has
    assert r.failures == [] and r.follow_ups and r.common_mistakes
    again = review(ws, SAMPLING, give_up=False)  # once given up, no need to say it again
    assert again.gave_up


def test_after_a_grade_the_review_names_what_the_grade_failed_on(tmp_path: Path) -> None:
    ws = start(SAMPLING, tmp_path / "ws", 1800, force=False, resume=False).workspace
    shutil.copyfile(SAMPLING.model_answer, ws.solution)
    session = ws.load()
    report = Report(
        kata="sampling",
        score=88.0,
        passed=True,
        elapsed_s=600.0,
        limit_s=1800.0,
        hints_taken=0,
        checks={
            "tests": Check("tests", "pass"),
            "speed": Check("speed", "fail", reason="3.4x slower than the reference"),
            "memory": Check("memory", "unmeasured", reason="busy"),
        },
        pass_mark=80,
        graded_at="2026-12-07T08:00:00+00:00",
    )
    History().record(session.attempt, ws.root, report)
    session.last_grade = {"score": 88.0}
    ws.save(session)
    r = review(ws, SAMPLING, give_up=False)
    assert r.failures == [("speed", "3.4x slower than the reference")]
    assert r.diff == "" and not r.gave_up


def test_the_reference_definitions_are_read_from_the_source() -> None:
    sources = dict(reference_sources(SAMPLING))
    assert set(sources) == {"reference.sampling.filter_logits", "reference.sampling.sample"}
    assert "def sample(" in sources["reference.sampling.sample"]


def _mock(toy_kata: Kata, tmp_path: Path) -> Workspace:
    return start(toy_kata, tmp_path / "m", 600, force=False, resume=False, mode=Mode.MOCK).workspace


def test_during_a_mock_interview_the_review_is_refused_saying_when_it_opens(
    toy_kata: Kata, tmp_path: Path
) -> None:
    ws = _mock(toy_kata, tmp_path)
    with pytest.raises(BadInput) as refused:
        review(ws, toy_kata, give_up=False)
    message = str(refused.value)
    assert re.fullmatch(
        r"this is a mock interview: the model answer opens when it is over, at its time limit "
        r"\(in \d+m\d\ds\), or once the interviewer has scored every rubric dimension "
        r"\(`drill mock score`\)",
        message,
    ), message
    with pytest.raises(BadInput, match="tell your interviewer, who ends it by scoring"):
        review(ws, toy_kata, give_up=True)  # giving up does not end the interview
    assert ws.load().gave_up_at is None
    assert not any(e.kind == "review" for e in _events(ws))


def test_a_mock_interview_opens_the_model_answer_once_its_time_is_up(
    toy_kata: Kata, tmp_path: Path
) -> None:
    ws = _mock(toy_kata, tmp_path)
    session = ws.load()
    session.started_at = (now() - timedelta(seconds=601)).isoformat(timespec="seconds")
    ws.save(session)
    with pytest.raises(BadInput, match="grade this attempt first"):  # then as in practice
        review(ws, toy_kata, give_up=False)
    r = review(ws, toy_kata, give_up=True)
    assert r.gave_up and r.diff.startswith("--- solution.py")
    review(ws, toy_kata, give_up=False)  # a second look is not a second event
    assert [e.kind for e in _events(ws)].count("review") == 1


def test_a_mock_interview_opens_the_model_answer_once_the_rubric_is_scored(
    toy_kata: Kata, toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = _mock(toy_kata, tmp_path)
    mock = open_mock(ws.root)
    *first, last = DIMENSIONS
    for dimension in first:
        interview.score(mock, dimension, 3)
    with pytest.raises(BadInput, match="mock interview"):  # the rubric is not scored yet
        review(ws, toy_kata, give_up=True)
    interview.score(mock, last, 2)
    assert review(ws, toy_kata, give_up=True).gave_up
    assert fold(_events(ws)).reviewed_t is not None


def _events(ws: Workspace) -> list[Event]:
    return timeline.read(store.timeline_path(ws.root))


LONG = "x = " + " + ".join(["1"] * 60)  # 244 characters: wider than any terminal here


def test_a_review_written_to_a_file_keeps_every_diff_line_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = start(SAMPLING, tmp_path / "ws", 1800, force=False, resume=False).workspace
    ws.solution.write_text(LONG + "\n")
    assert run(["review", "--give-up", "--dir", str(ws.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "-" + LONG in out  # not cut at 80 columns, which would leave a line without its -
    diff = out[out.index("--- solution.py") : out.index("+++ model_answer.py") + 2]
    assert diff[2].startswith("@@")


def test_a_review_on_a_narrow_terminal_does_not_break_diff_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = start(SAMPLING, tmp_path / "ws", 1800, force=False, resume=False).workspace
    ws.solution.write_text(LONG + "\n")
    screen = io.StringIO()
    monkeypatch.setattr(
        render, "console", Console(file=screen, force_terminal=True, width=40, color_system=None)
    )
    render.review(review(ws, SAMPLING, give_up=True))
    assert "-" + LONG in screen.getvalue().splitlines()  # the terminal folds it, not drill
