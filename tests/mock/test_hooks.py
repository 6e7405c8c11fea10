"""`drill grade` in a mock interview, through its hooks, without running the grader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import grader.pipeline
from drills import actions
from drills.__main__ import run
from drills.mock import interview, snapshots
from drills.mock.interview import Mock
from grader.kata import Kata
from grader.report import Report
from tests.mock.helpers import events, session_json
from tests.test_history import make_report


@pytest.fixture
def graded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand in for the grader: each grade types a line into solution.py while it runs,
    as a candidate who carries on would, and the keyword arguments are kept."""
    calls: list[dict[str, Any]] = []

    def grade(kata: Kata, solution: Path, **kwargs: Any) -> Report:
        calls.append(kwargs)
        solution.write_text(solution.read_text() + "# typed while the grade ran\n")
        partial = sorted(kwargs["only"]) if kwargs["only"] else None
        return replace(make_report(90, kata.id), partial=partial)

    monkeypatch.setattr(grader.pipeline, "grade", grade)
    return calls


@pytest.mark.parametrize("only", [None, {"tests"}], ids=["whole", "partial"])
def test_a_grade_records_the_solution_it_graded(
    mock: Mock, graded: list[dict[str, Any]], only: set[str] | None
) -> None:
    before = (mock.root / "solution.py").read_text()
    actions.grade(mock.root, device="cpu", only=only)
    (event,) = events(mock.root, "grade")
    assert snapshots.load(mock.root, event.data["snapshot"]) == before
    kept = session_json(mock.root)["last_grade"]
    assert (kept is None) == (only is not None)  # a partial grade is not kept
    if only is None:
        assert event.data["score"] == 90 and "partial" not in event.data
    else:  # not a grade of the kata: the checks that ran, and no score out of 100
        assert event.data["partial"] == ["tests"] and "score" not in event.data
        assert mock.state().grades == [] and [p.ran for p in mock.state().partials] == [("tests",)]


def test_a_grade_counts_the_hints_the_session_file_lost(
    mock: Mock, graded: list[dict[str, Any]]
) -> None:
    """Two machines synced by git: session.json came back without the interviewer's hint."""
    stale = (mock.root / ".drill" / "session.json").read_text()
    interview.reveal_next_hint(mock)
    (mock.root / ".drill" / "session.json").write_text(stale)
    actions.grade(mock.root, device="cpu", only=None)
    assert graded[0]["hints_taken"] == 1
    assert [h["index"] for h in session_json(mock.root)["hints"]] == [0]


def test_a_partial_grade_after_a_full_one_leaves_the_full_one_as_the_mocks_grade(
    mock: Mock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's stub: a full grade says 10/100; `--only types` scores its one check
    100. The console and the report must still say 10/100."""

    def grade(kata: Kata, solution: Path, **kwargs: Any) -> Report:
        if kwargs["only"]:
            return replace(make_report(100, kata.id), partial=sorted(kwargs["only"]))
        return make_report(10, kata.id)

    monkeypatch.setattr(grader.pipeline, "grade", grade)
    actions.grade(mock.root, device="cpu", only=None)
    actions.grade(mock.root, device="cpu", only={"types"})
    capsys.readouterr()
    assert run(["mock", "interviewer", "--print", "--dir", str(mock.root)]) == 0
    console = capsys.readouterr().out
    assert "10.0/100, not passed" in console and "100.0" not in console
    assert run(["mock", "report", "--dir", str(mock.root)]) == 0
    text = capsys.readouterr().out
    assert "**10.0/100, not passed**" in text and "100.0" not in text
    assert "types: passed at" in text
