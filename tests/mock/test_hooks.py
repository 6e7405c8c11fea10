"""`drill grade` in a mock interview, through its hooks, without running the grader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import grader.pipeline
from drills import actions
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
    assert event.data["only"] == sorted(only or [])
    kept = session_json(mock.root)["last_grade"]
    assert (kept is None) == (only is not None)  # a partial grade is not kept


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
