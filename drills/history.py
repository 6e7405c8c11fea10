"""The history store: every grade, in SQLite, in the user data directory (or `$DRILL_HOME`).

One row per grade (and per estimation question, and per planted bug handed out). Each write is one transaction, so a grade killed halfway leaves
the earlier rows intact and no partial row. A file that is not a readable database is
moved aside (never emptied) and a new store is started, with a message that says where
the old one went.

The schema is versioned (SQLite's `user_version`): opening a store applies, in order and
each in one transaction, the migrations it has not had yet, so an older store is upgraded
in place without losing a row. A store written by a newer release is left as it is.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.errors import BadInput, DrillError
from grader.paths import data_dir
from grader.report import Report

# Migration i takes a store from version i to i + 1. Append only: a migration that has
# shipped is never edited, since stores out there have already run it.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: one row per grade. The first release made this table without a version (0);
    # IF NOT EXISTS lets its stores pass through unchanged.
    (
        """CREATE TABLE IF NOT EXISTS grades (
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
        )""",
        "CREATE INDEX IF NOT EXISTS grades_kata ON grades (kata, graded_at)",
    ),
    # 2: one row per answered `drill estimate` question (drills/estimate). The question
    # is (topic, seed); params is its drawn parameters as JSON, answer the text typed
    # (NULL when the answer was shown instead), value that text read in the base unit.
    (
        """CREATE TABLE estimates (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session TEXT NOT NULL,
            topic TEXT NOT NULL,
            seed INTEGER NOT NULL,
            params TEXT NOT NULL,
            kind TEXT NOT NULL,
            answer TEXT,
            value REAL,
            expected REAL NOT NULL,
            expected_text TEXT NOT NULL,
            score REAL NOT NULL,
            elapsed_s REAL NOT NULL,
            answered_at TEXT NOT NULL
        )""",
        "CREATE INDEX estimates_topic ON estimates (topic, answered_at)",
    ),
    # 3: `drill review` looks up one attempt's grades.
    ("CREATE INDEX grades_attempt ON grades (attempt, graded_at)",),
    # 4: one row per planted bug a bug hunt handed out (drills/hunt.py), so that a new
    # attempt draws one this candidate has not seen.
    (
        """CREATE TABLE draws (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kata TEXT NOT NULL,
            variant TEXT NOT NULL,
            attempt TEXT NOT NULL,
            drawn_at TEXT NOT NULL
        )""",
        "CREATE INDEX draws_kata ON draws (kata, drawn_at)",
    ),
)
VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the store to `VERSION`, one migration per transaction."""
    if (found := _version(conn)) > VERSION:
        raise BadInput(
            f"the history store {path} was written by a newer drill (schema {found}; this "
            f"one knows {VERSION}): upgrade drill to read it"
        )
    while (version := _version(conn)) < VERSION:
        conn.execute("BEGIN IMMEDIATE")  # one writer migrates; the others wait, then skip
        try:
            if _version(conn) == version:
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


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


@dataclass(frozen=True)
class EstimateRow:
    """One answered estimation question (`drill estimate`)."""

    session: str
    topic: str
    seed: int
    params: dict[str, object]
    kind: str
    answer: str | None  # as typed; None: the answer was shown instead
    value: float | None  # the answer in the base unit of `kind`
    expected: float
    expected_text: str  # the expected value as the session worded it
    score: float  # 1, 0.5 or 0
    elapsed_s: float
    answered_at: str  # ISO time in UTC


def _unreadable(exc: sqlite3.DatabaseError) -> bool:
    """The file is not a database, or a damaged one: what moving it aside is for."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised without a code: by SQLite's Python layer, on a bad file
        return not isinstance(exc, sqlite3.OperationalError)
    return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class StoreUnavailable(DrillError, sqlite3.OperationalError):
    """The store is there but cannot be used now (locked by another drill for longer than
    we wait, a full disk, an I/O error): said in one line, exit 3, nothing changed. Still
    an sqlite3 error, for a caller that keeps a finished grade's report regardless."""


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
        except sqlite3.DatabaseError as exc:
            if not _unreadable(exc):  # locked, a full disk, an I/O error: not the file's fault
                raise StoreUnavailable(
                    f"the history store {self.path} cannot be used now ({exc}); nothing was"
                    " changed: try again once no other drill is writing to it"
                ) from exc
            self._move_aside()
            conn = self._open()
        with closing(conn):
            yield conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            migrate(conn, self.path)  # first: a newer release's store is left untouched
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("SELECT count(*) FROM grades").fetchone()
        except (sqlite3.DatabaseError, BadInput):
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

    def open(self) -> None:
        """Open the store, upgraded to this release's schema (or refused, if newer)."""
        with self._connect():
            pass

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

    def export(self) -> list[dict[str, Any]]:
        """Every grade, oldest first, with its whole report (`drill export`)."""
        query = (
            "SELECT attempt, kata, workspace, graded_at, score, passed, elapsed_s, limit_s, "
            "hints, report FROM grades ORDER BY graded_at, id"
        )
        with self._connect() as conn:
            found = conn.execute(query).fetchall()
        return [
            {**asdict(Row(a, k, w, g, s, bool(p), e, lim, h)), "report": json.loads(r)}
            for a, k, w, g, s, p, e, lim, h, r in found
        ]

    def last_report(self, attempt: str) -> dict[str, Any] | None:
        """The report of the attempt's latest grade, or None if it has none."""
        query = (
            "SELECT report FROM grades WHERE attempt = ? ORDER BY graded_at DESC, id DESC LIMIT 1"
        )
        with self._connect() as conn:
            found = conn.execute(query, (attempt,)).fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def rows(self, kata: str | Sequence[str] | None = None, limit: int = 50) -> list[Row]:
        """The latest grades, newest first: of every kata, of one, or of several."""
        query = "SELECT attempt, kata, workspace, graded_at, score, passed, elapsed_s, limit_s, hints FROM grades"
        params: tuple[object, ...] = ()
        if kata:
            params = (kata,) if isinstance(kata, str) else tuple(kata)
            query += f" WHERE kata IN ({', '.join('?' * len(params))})"
        query += " ORDER BY graded_at DESC, id DESC LIMIT ?"
        with self._connect() as conn:
            found = conn.execute(query, (*params, limit)).fetchall()
        return [Row(a, k, w, g, s, bool(p), e, lim, h) for a, k, w, g, s, p, e, lim, h in found]

    def record_draw(self, kata: str, variant: str, attempt: str, drawn_at: str) -> None:
        """A bug hunt handed out `variant` to `attempt`."""
        with self._connect() as conn, conn:
            conn.execute(
                "INSERT INTO draws (kata, variant, attempt, drawn_at) VALUES (?, ?, ?, ?)",
                (kata, variant, attempt, drawn_at),
            )

    def draws(self, kata: str) -> list[str]:
        """The planted bugs `kata` has handed out, oldest first."""
        query = "SELECT variant FROM draws WHERE kata = ? ORDER BY drawn_at, id"
        with self._connect() as conn:
            return [str(v) for (v,) in conn.execute(query, (kata,)).fetchall()]

    def record_estimate(self, row: EstimateRow) -> None:
        with self._connect() as conn, conn:
            conn.execute(
                "INSERT INTO estimates (session, topic, seed, params, kind, answer, value,"
                " expected, expected_text, score, elapsed_s, answered_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.session,
                    row.topic,
                    row.seed,
                    json.dumps(row.params, sort_keys=True),
                    row.kind,
                    row.answer,
                    row.value,
                    row.expected,
                    row.expected_text,
                    row.score,
                    row.elapsed_s,
                    row.answered_at,
                ),
            )

    def estimates(self, topic: str | None = None, limit: int | None = None) -> list[EstimateRow]:
        """Answered estimation questions, newest first (of `topic` only, if given)."""
        query = (
            "SELECT session, topic, seed, params, kind, answer, value, expected,"
            " expected_text, score, elapsed_s, answered_at FROM estimates"
        )
        params: list[object] = []
        if topic:
            query += " WHERE topic = ?"
            params.append(topic)
        query += " ORDER BY answered_at DESC, id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._connect() as conn:
            found = conn.execute(query, params).fetchall()
        return [
            EstimateRow(s, t, seed, json.loads(p), k, a, v, e, et, sc, el, at)
            for s, t, seed, p, k, a, v, e, et, sc, el, at in found
        ]


EXPORT_COLUMNS = [f.name for f in fields(Row)]


def to_csv(grades: list[dict[str, Any]]) -> str:
    """One line per grade; each check's status in its own column (`check_tests`, ...)."""
    import csv
    import io

    checks = sorted({name for g in grades for name in g["report"].get("checks", {})})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, *(f"check_{c}" for c in checks)])
    for g in grades:
        statuses = g["report"].get("checks", {})
        writer.writerow(
            [
                *(g[c] for c in EXPORT_COLUMNS),
                *(statuses.get(c, {}).get("status", "") for c in checks),
            ]
        )
    return out.getvalue()
