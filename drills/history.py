"""The history store: every grade, in SQLite, in the user data directory (or `$DRILL_HOME`).

One row per grade. Each write is one transaction, so a grade killed halfway leaves
the earlier rows intact and no partial row. A file that is not a readable database is
moved aside (never emptied) and a new store is started, with a message that says where
the old one went.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader.paths import data_dir
from grader.report import Report

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt TEXT NOT NULL,
    kata TEXT NOT NULL,
    workspace TEXT NOT NULL,
    graded_at TEXT NOT NULL,
    score REAL NOT NULL,
    passed INTEGER NOT NULL,
    elapsed_s REAL,
    limit_s REAL,
    hints INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grades_kata ON grades (kata, graded_at);
"""


@dataclass(frozen=True)
class Row:
    attempt: str
    kata: str
    workspace: str
    graded_at: str
    score: float
    passed: bool
    elapsed_s: float | None
    limit_s: float | None
    hints: int


def store_path() -> Path:
    return data_dir() / "history.sqlite3"


class History:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_path()
        self.moved_aside: Path | None = None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._open()
        except sqlite3.DatabaseError:
            self._move_aside()
            conn = self._open()
        with closing(conn):
            yield conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            conn.execute("SELECT count(*) FROM grades").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _move_aside(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        self.path.rename(aside)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))
        self.moved_aside = aside

    def record(self, attempt: str, workspace: Path, report: Report) -> None:
        with self._connect() as conn, conn:
            conn.execute(
                "INSERT INTO grades (attempt, kata, workspace, graded_at, score, passed, elapsed_s,"
                " limit_s, hints, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt,
                    report.kata,
                    str(workspace),
                    report.graded_at,
                    report.score,
                    int(report.passed),
                    report.elapsed_s,
                    report.limit_s,
                    report.hints_taken,
                    json.dumps(report.to_json()),
                ),
            )

    def rows(self, kata: str | None = None, limit: int = 50) -> list[Row]:
        query = "SELECT attempt, kata, workspace, graded_at, score, passed, elapsed_s, limit_s, hints FROM grades"
        params: tuple[object, ...] = ()
        if kata:
            query += " WHERE kata = ?"
            params = (kata,)
        query += " ORDER BY graded_at DESC, id DESC LIMIT ?"
        with self._connect() as conn:
            found = conn.execute(query, (*params, limit)).fetchall()
        return [Row(a, k, w, g, s, bool(p), e, lim, h) for a, k, w, g, s, p, e, lim, h in found]
