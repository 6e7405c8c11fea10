"""`drill next`: the order comes from the grader's signals, through FSRS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fsrs import Rating

from drills.schedule import Attempt, attempts_from, estimation_topic, rating, recommend
from grader.kata import all_katas
from grader.paths import BUILTIN_KATAS

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def grade(
    kata: str,
    attempt: str,
    days_ago: float,
    score: float,
    *,
    passed: bool | None = None,
    hints: int = 0,
    elapsed_s: float = 1200,
    failing: tuple[str, ...] = (),
    speed: str = "pass",
) -> dict[str, Any]:
    failures = [{"test": t, "outcome": "failed", "reason": "assert"} for t in failing]
    return {
        "attempt": attempt,
        "kata": kata,
        "workspace": "/w",
        "graded_at": (NOW - timedelta(days=days_ago)).isoformat(),
        "score": score,
        "passed": score >= 80 and not failing if passed is None else passed,
        "elapsed_s": elapsed_s,
        "limit_s": 1800.0,
        "hints": hints,
        "report": {"checks": {"tests": {"failures": failures}, "speed": {"status": speed}}},
    }


def one(**kwargs: Any) -> Attempt:
    (attempt,) = attempts_from([grade("sampling", "a", 1, **kwargs)])
    return attempt


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"score": 55.0, "failing": ("test_a.py::test_x",)}, Rating.Again),
        ({"score": 95.0, "hints": 1}, Rating.Hard),
        ({"score": 95.0, "elapsed_s": 2000}, Rating.Hard),
        ({"score": 85.0, "speed": "fail"}, Rating.Hard),
        ({"score": 95.0}, Rating.Good),
        ({"score": 100.0, "elapsed_s": 900}, Rating.Easy),
        ({"score": 100.0, "elapsed_s": 1000}, Rating.Good),  # past half the limit
    ],
)
def test_an_attempt_is_rated_from_what_the_grader_saw(
    kwargs: dict[str, Any], expected: Rating
) -> None:
    assert rating(one(**kwargs)) == expected


def test_the_last_grade_of_an_attempt_stands_for_it() -> None:
    grades = [
        grade("sampling", "a", 2.0, 40.0, failing=("t.py::test_x",)),
        grade("sampling", "a", 1.9, 100.0),
        grade("sampling", "b", 1.0, 30.0, failing=("t.py::test_y",)),
    ]
    attempts = attempts_from(grades)
    assert [(a.score, a.passed) for a in attempts] == [(100.0, True), (30.0, False)]


HISTORY = [
    # kv-cache: the wrap-around failed in two attempts, the last 6 days ago
    grade("kv-cache", "k1", 9, 45.0, failing=("test_rolling.py::test_wraps_around[8]",)),
    grade("kv-cache", "k2", 6, 70.0, failing=("test_rolling.py::test_wraps_around[3]",)),
    # sampling: passed cleanly yesterday, and before
    grade("sampling", "s1", 20, 100.0, elapsed_s=800),
    grade("sampling", "s2", 1, 100.0, elapsed_s=800),
    # moe-router: passed with a hint 40 days ago
    grade("moe-router", "m1", 40, 90.0, hints=1),
]


def test_the_kata_failed_most_recently_comes_first_with_its_reason() -> None:
    recs = recommend(all_katas(BUILTIN_KATAS), attempts_from(HISTORY), NOW)
    first = recs[0]
    assert first.kata == "kv-cache"
    assert first.reason == "failed 'wraps around' twice, last tried 6 days ago"
    assert first.recall is not None and first.due is not None and first.due <= NOW


def test_never_tried_katas_come_after_the_due_ones_easiest_first_and_the_fresh_last() -> None:
    katas = all_katas(BUILTIN_KATAS)
    recs = recommend(katas, attempts_from(HISTORY), NOW)
    order = [r.kata for r in recs]
    due = {"kv-cache", "moe-router"}
    assert set(order[:2]) == due  # moe-router: 40 days since a hard pass
    new = [r for r in recs if r.due is None]
    assert [r.kata for r in new] == order[2 : 2 + len(new)]
    difficulty = {k.id: (k.difficulty, k.minutes) for k in katas if not k.is_bug_hunt}
    difficulty["bug-hunt"] = (3, 30)  # every family's
    assert [difficulty[r.kata] for r in new] == sorted(difficulty[r.kata] for r in new)
    assert order[-1] == "sampling"
    assert recs[-1].reason == "passed twice, last tried yesterday"


def test_the_bug_hunts_are_one_card_that_any_family_reviews() -> None:
    katas = all_katas(BUILTIN_KATAS)
    families = [k.id for k in katas if k.is_bug_hunt]
    assert len(families) >= 6
    fresh = [r for r in recommend(katas, [], NOW) if r.kata.startswith("bug-hunt")]
    assert [r.kata for r in fresh] == ["bug-hunt"]
    assert fresh[0].reason == (
        f"a planted bug from one of {len(families)} files; never tried; difficulty 3/5, 30 min"
    )
    hunts = [
        grade("bug-hunt-moe", "h1", 9, 30.0, failing=("test_routing.py::test_renormalised",)),
        grade("bug-hunt-paged-cache", "h2", 2, 95.0),
    ]
    recs = {r.kata: r for r in recommend(katas, attempts_from(hunts), NOW)}
    assert not any(kata.startswith("bug-hunt-") for kata in recs)
    card = recs["bug-hunt"]
    assert [a.kata for a in card.attempts] == ["bug-hunt-moe", "bug-hunt-paged-cache"]
    assert card.reason == "passed after 1 attempt that did not, last tried 2 days ago"
    assert card.due is not None and card.due > NOW  # just passed: not due again yet


def test_the_same_history_gives_the_same_order() -> None:
    katas = all_katas(BUILTIN_KATAS)
    first = [r.to_json() for r in recommend(katas, attempts_from(HISTORY), NOW)]
    again = [r.to_json() for r in recommend(katas, attempts_from(HISTORY), NOW)]
    assert first == again


def test_drill_next_reads_the_history_store(isolated_home: Path) -> None:
    from drills.history import History
    from grader.report import Check, Report

    failing = {"failures": [{"test": "t.py::test_slot_wraps", "outcome": "failed", "reason": ""}]}
    History().record(
        "k1",
        Path("/w"),
        Report(
            kata="kv-cache",
            score=40.0,
            passed=False,
            elapsed_s=600.0,
            limit_s=1800.0,
            hints_taken=0,
            checks={"tests": Check("tests", "fail", details=failing)},
            pass_mark=80,
            graded_at=(datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds"),
        ),
    )
    env = {**os.environ, "DRILL_HOME": str(isolated_home)}
    done = subprocess.run(
        [sys.executable, "-m", "drills", "next", "--format", "json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    up = json.loads(done.stdout)
    recs = up["katas"]
    assert recs[0]["kata"] == "kv-cache" and recs[0]["attempts"] == 1
    assert recs[0]["reason"] == "failed 'slot wraps' once, last tried 3 days ago"
    katas = all_katas(BUILTIN_KATAS)
    assert len(recs) == sum(not k.is_bug_hunt for k in katas) + 1  # and "bug-hunt"
    assert up["estimate"] == {"topic": "weights", "reason": "never practised"}


def test_the_estimation_topic_is_one_never_practised_else_the_weakest() -> None:
    topics = ["weights", "kv-cache", "decode"]
    assert estimation_topic(topics, {"weights": (5, 1.0)}) == ("kv-cache", "never practised")
    practised = {"weights": (5, 1.0), "kv-cache": (12, 0.45), "decode": (3, 0.5)}
    assert estimation_topic(topics, practised) == (
        "kv-cache",
        "recent answers score 45% (12 answered)",
    )
