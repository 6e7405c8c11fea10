"""The history store keeps every grade, and never silently empties a damaged file."""

from __future__ import annotations

from pathlib import Path

from drills.history import History, store_path
from grader.report import Check, Report


def make_report(
    score: float, kata: str = "sampling", at: str = "2026-11-23T08:00:00+00:00"
) -> Report:
    return Report(
        kata=kata,
        score=score,
        passed=score >= 80,
        elapsed_s=120.0,
        limit_s=1800.0,
        hints_taken=1,
        checks={"tests": Check("tests", "pass")},
        pass_mark=80,
        graded_at=at,
    )


def test_grades_are_listed_newest_first(isolated_home: Path) -> None:
    store = History()
    store.record("a1", Path("/w"), make_report(50, at="2026-11-23T08:00:00+00:00"))
    store.record("a1", Path("/w"), make_report(91.5, at="2026-11-23T08:30:00+00:00"))
    rows = store.rows()
    assert [r.score for r in rows] == [91.5, 50]
    assert rows[0].hints == 1 and rows[0].elapsed_s == 120.0 and rows[0].passed
    assert store_path().parent == isolated_home


def test_rows_filter_by_kata() -> None:
    store = History()
    store.record("a1", Path("/w"), make_report(50, "sampling"))
    store.record("a2", Path("/w"), make_report(70, "kv-cache"))
    assert [r.kata for r in store.rows("kv-cache")] == ["kv-cache"]


def test_a_corrupt_store_is_moved_aside_not_emptied(isolated_home: Path) -> None:
    path = store_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    store = History()
    store.record("a1", Path("/w"), make_report(60))
    assert store.moved_aside is not None
    assert store.moved_aside.read_bytes() == b"this is not a database" * 100
    assert [r.score for r in store.rows()] == [60]
