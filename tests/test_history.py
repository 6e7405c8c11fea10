"""The history store keeps every grade, and never silently empties a damaged file."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from drills.__main__ import run
from drills.history import VERSION, History, StoreUnavailable, store_path, to_csv
from grader.errors import BadInput
from grader.kata import Kata
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


def test_last_report_is_the_attempts_latest_grade() -> None:
    store = History()
    store.record("a1", Path("/w"), make_report(50, at="2026-11-23T08:00:00+00:00"))
    store.record("a1", Path("/w"), make_report(90, at="2026-11-23T09:00:00+00:00"))
    store.record("a2", Path("/w"), make_report(70, at="2026-11-23T10:00:00+00:00"))
    report = store.last_report("a1")
    assert report is not None and report["score"] == 90
    assert store.last_report("never-graded") is None


@pytest.mark.parametrize("why", ["disk I/O error", "database is locked"])
def test_a_store_that_cannot_be_written_now_is_an_error_not_moved_aside(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    # A full disk, a file-size limit, another drill holding the lock: the store is fine,
    # and moving it aside would hide every grade in it.
    store = History()
    store.record("a1", Path("/w"), make_report(60))
    before = store.path.read_bytes()

    def fails(conn: sqlite3.Connection, path: Path) -> None:
        raise sqlite3.OperationalError(why)

    with monkeypatch.context() as patched, pytest.raises(StoreUnavailable, match=why):
        patched.setattr("drills.history.migrate", fails)
        History().record("a2", Path("/w"), make_report(70))
    assert store.path.read_bytes() == before
    assert [r.score for r in History().rows()] == [60]


def test_a_store_that_cannot_be_used_now_is_one_line_and_exit_3(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    History().record("a1", Path("/w"), make_report(60))

    def locked(conn: sqlite3.Connection, path: Path) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("drills.history.migrate", locked)
    assert run(["history"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "database is locked" in err[0]
    assert "internal error" not in err[0]
    assert "try again once no other drill is writing to it" in err[0]


def test_a_corrupt_store_is_moved_aside_not_emptied(isolated_home: Path) -> None:
    path = store_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    store = History()
    store.record("a1", Path("/w"), make_report(60))
    assert store.moved_aside is not None
    assert store.moved_aside.read_bytes() == b"this is not a database" * 100
    assert [r.score for r in store.rows()] == [60]


FIRST_RELEASE_SCHEMA = """
CREATE TABLE grades (
    id INTEGER PRIMARY KEY AUTOINCREMENT, attempt TEXT NOT NULL, kata TEXT NOT NULL,
    workspace TEXT NOT NULL, graded_at TEXT NOT NULL, score REAL NOT NULL,
    passed INTEGER NOT NULL, elapsed_s REAL, limit_s REAL, hints INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX grades_kata ON grades (kata, graded_at);
INSERT INTO grades (attempt, kata, workspace, graded_at, score, passed, elapsed_s, limit_s,
                    hints, report)
VALUES ('a1', 'sampling', '/w', '2026-11-20T08:00:00+00:00', 72.5, 0, 900, 1800, 2, '{}'),
       ('a2', 'kv-cache', '/v', '2026-11-21T08:00:00+00:00', 100, 1, 1500, 1800, 0, '{}');
"""


def test_a_store_of_the_first_release_is_upgraded_in_place_with_every_row() -> None:
    path = store_path()
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(FIRST_RELEASE_SCHEMA)  # no user_version: the first release's
    store = History()
    rows = store.rows()
    assert store.moved_aside is None
    assert [(r.kata, r.score, r.hints, r.passed) for r in rows] == [
        ("kv-cache", 100.0, 0, True),
        ("sampling", 72.5, 2, False),
    ]
    store.record("a3", Path("/w"), make_report(80))
    assert len(store.rows()) == 3
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_a_store_of_a_newer_release_is_refused_and_left_as_it_is() -> None:
    path = store_path()
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(FIRST_RELEASE_SCHEMA)
        conn.execute(f"PRAGMA user_version = {VERSION + 1}")
    before = path.read_bytes()
    store = History()
    with pytest.raises(BadInput, match=rf"written by a newer drill \(schema {VERSION + 1}"):
        store.rows()
    assert store.moved_aside is None and path.read_bytes() == before


def test_export_gives_every_grade_oldest_first_with_its_checks(tmp_path: Path) -> None:
    store = History()
    late = make_report(91.5, "kv-cache", at="2026-11-24T08:00:00+00:00")
    late.checks["speed"] = Check("speed", "fail", reason="too slow")
    store.record("a2", Path("/v"), late)
    store.record("a1", Path("/w"), make_report(50, at="2026-11-23T08:00:00+00:00"))
    grades = store.export()
    assert [(g["kata"], g["score"]) for g in grades] == [("sampling", 50.0), ("kv-cache", 91.5)]
    assert grades[1]["report"]["checks"]["speed"]["reason"] == "too slow"
    lines = to_csv(grades).splitlines()
    assert lines[0] == (
        "attempt,kata,workspace,graded_at,score,passed,elapsed_s,limit_s,hints,"
        "check_speed,check_tests"
    )
    assert lines[1] == "a1,sampling,/w,2026-11-23T08:00:00+00:00,50.0,False,120.0,1800.0,1,,pass"
    assert lines[2].endswith(",True,120.0,1800.0,1,fail,pass")


def test_a_grade_the_store_cannot_keep_is_still_shown_and_says_so(
    toy_katas_dir: Path, toy_kata: Kata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The grade took minutes: a locked store must not lose it.
    import grader.pipeline
    from drills import actions
    from drills.workspace import start

    ws = tmp_path / "ws"
    start(toy_kata, ws, 600, force=False, resume=False)
    monkeypatch.setattr(grader.pipeline, "grade", lambda kata, solution, **kw: make_report(90))

    def locked(self: History, attempt: str, workspace: Path, report: Report) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(History, "record", locked)
    outcome = actions.grade(ws, device="cpu", only=None)
    assert outcome.report.score == 90
    assert outcome.not_kept == "OperationalError: database is locked"
    assert json.loads((ws / ".drill" / "session.json").read_text())["last_grade"]["score"] == 90
