"""`drill review`: the model answer only after a grade (or a recorded give-up)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drills.history import History
from drills.review import reference_sources, review
from drills.workspace import Mode, start
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


def test_a_mock_interview_keeps_the_model_answer_for_afterwards(
    toy_kata: Kata, tmp_path: Path
) -> None:
    ws = start(toy_kata, tmp_path / "m", 600, force=False, resume=False, mode=Mode.MOCK).workspace
    with pytest.raises(BadInput, match="mock interview"):
        review(ws, toy_kata, give_up=True)
    assert ws.load().gave_up_at is None
