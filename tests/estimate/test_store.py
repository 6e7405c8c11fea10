"""Estimates in the history store: migration 2 upgrades a store of version 1 in place."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from drills.history import VERSION, EstimateRow, History, store_path
from tests.test_history import FIRST_RELEASE_SCHEMA


def row(topic: str, score: float, at: str, answer: str | None = "14 GB") -> EstimateRow:
    return EstimateRow(
        session="s1",
        topic=topic,
        seed=42,
        params={"model": "mistral-7b", "seq_len": 4096},
        kind="bytes",
        answer=answer,
        value=14e9 if answer else None,
        expected=1.5e10,
        expected_text="15 GB (13.97 GiB)",
        score=score,
        elapsed_s=12.5,
        answered_at=at,
    )


def test_a_version_1_store_is_upgraded_without_losing_a_grade() -> None:
    path = store_path()
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(FIRST_RELEASE_SCHEMA)
        conn.execute("PRAGMA user_version = 1")  # the release before `drill estimate`
    store = History()
    assert [(r.kata, r.score) for r in store.rows()] == [("kv-cache", 100.0), ("sampling", 72.5)]
    assert store.moved_aside is None
    store.record_estimate(row("kv-cache", 1.0, "2026-11-22T08:00:00+00:00"))
    assert len(store.rows()) == 2  # the grades are all there, and only them
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_estimates_round_trip_newest_first_and_by_topic() -> None:
    store = History()
    first = row("kv-cache", 1.0, "2026-11-22T08:00:00+00:00")
    second = row("decode", 0.5, "2026-11-22T09:00:00+00:00", answer=None)
    store.record_estimate(first)
    store.record_estimate(second)
    assert store.estimates() == [second, first]
    assert store.estimates("kv-cache") == [first]
    assert store.estimates(limit=1) == [second]
    assert store.rows() == []  # grades are a table of their own
