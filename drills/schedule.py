"""`drill next`: which kata to practise now, by spaced repetition driven by the grader.

Each kata is a card of FSRS (the Free Spaced Repetition Scheduler, through the `fsrs`
package). An attempt is one review: its last grade is the answer, rated by the grader's
own signals rather than by the candidate's opinion of themselves:

    Again  not passed (a hidden test fails, or the score is under the pass mark)
    Hard   passed, but with a hint, past the time limit, or failing memory or speed
    Good   passed cleanly within the time limit
    Easy   passed with every point, no hint, in at most half the time limit

The kata due first (lowest recall probability among those due) comes first; katas never
tried follow, easiest first; the rest wait for their due date. Each line says why.

Bug hunts are one card, `bug-hunt`: each attempt draws a bug not seen before, so what is
learnt is the format (reading code you did not write), not one family's file; an
attempt at any family is a review of it, and `drill start bug-hunt` picks the family.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from drills.hunt import ALIAS as HUNTS

if TYPE_CHECKING:
    from fsrs import Rating

    from grader.kata import Kata

MEASURED_CHECKS = ("memory", "speed", "integration")


@dataclass(frozen=True)
class Attempt:
    """One attempt at a kata, as its last grade left it."""

    kata: str
    at: datetime
    score: float
    passed: bool
    hints: int
    elapsed_s: float | None
    over_time: bool
    fast: bool  # within half the time limit
    failing_tests: tuple[str, ...]
    failing_checks: tuple[str, ...]  # memory, speed, integration


@dataclass
class Recommendation:
    kata: str
    due: datetime | None  # None: never tried
    recall: float | None  # FSRS's probability of recall now; None: never tried
    reason: str
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kata": self.kata,
            "due": self.due.isoformat(timespec="seconds") if self.due else None,
            "recall": None if self.recall is None else round(self.recall, 3),
            "attempts": len(self.attempts),
            "reason": self.reason,
        }


def attempts_from(grades: list[dict[str, Any]]) -> list[Attempt]:
    """Attempts from the history's grades (`History.export()`, oldest first): the last
    grade of each attempt stands for it."""
    last: dict[str, dict[str, Any]] = {}
    for g in grades:
        last[g["attempt"]] = g  # later grades of an attempt replace earlier ones
    return sorted((_attempt(g) for g in last.values()), key=lambda a: a.at)


def _attempt(g: dict[str, Any]) -> Attempt:
    checks = g["report"].get("checks", {})
    failures = checks.get("tests", {}).get("failures", [])
    limit = g["limit_s"]
    elapsed = g["elapsed_s"]
    return Attempt(
        kata=g["kata"],
        at=datetime.fromisoformat(g["graded_at"]),
        score=float(g["score"]),
        passed=bool(g["passed"]),
        hints=int(g["hints"]),
        elapsed_s=elapsed,
        over_time=bool(limit and elapsed is not None and elapsed > limit),
        fast=bool(limit and elapsed is not None and elapsed <= limit / 2),
        failing_tests=tuple(f["test"] for f in failures),
        failing_checks=tuple(
            c for c in MEASURED_CHECKS if checks.get(c, {}).get("status") == "fail"
        ),
    )


def rating(a: Attempt) -> Rating:
    from fsrs import Rating

    if not a.passed:
        return Rating.Again
    if a.hints or a.over_time or a.failing_checks:
        return Rating.Hard
    if a.score >= 100 - 1e-6 and a.fast:
        return Rating.Easy
    return Rating.Good


def recommend(katas: list[Kata], attempts: list[Attempt], now: datetime) -> list[Recommendation]:
    """Every kata, in the order to practise them, each with its reason."""
    from fsrs import Card, Scheduler

    # No same-day learning steps: a kata is re-done on another day, not in ten minutes.
    # No fuzzing: the same history always gives the same plan.
    scheduler = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)
    cards = _cards(katas)
    card_of = {k.id: (HUNTS if k.is_bug_hunt else k.id) for k in katas}
    by_card: dict[str, list[Attempt]] = {c.id: [] for c in cards}
    for a in attempts:
        if a.kata in card_of:
            by_card[card_of[a.kata]].append(a)
    tried: list[Recommendation] = []
    new: list[Recommendation] = []
    for c in cards:
        history = by_card[c.id]
        if not history:
            new.append(Recommendation(c.id, None, None, c.new_reason))
            continue
        card = Card()
        for a in history:
            card, _ = scheduler.review_card(card, rating(a), a.at)
        recall = scheduler.get_card_retrievability(card, now)
        tried.append(Recommendation(c.id, card.due, recall, _reason(history, now), history))
    due = sorted((r for r in tried if _is_due(r, now)), key=lambda r: r.recall or 0.0)
    waiting = sorted((r for r in tried if not _is_due(r, now)), key=lambda r: r.due or now)
    order = {c.id: (c.difficulty, c.minutes, c.id) for c in cards}
    new.sort(key=lambda r: order[r.kata])
    return [*due, *new, *waiting]


@dataclass(frozen=True)
class _Card:
    id: str  # what `drill start` takes
    difficulty: int
    minutes: int
    new_reason: str


def _cards(katas: list[Kata]) -> list[_Card]:
    """One card per kata, and one for all the bug hunts together."""
    cards = [
        _Card(k.id, k.difficulty, k.minutes, _new_reason(k.difficulty, k.minutes))
        for k in katas
        if not k.is_bug_hunt
    ]
    hunts = [k for k in katas if k.is_bug_hunt]
    if hunts:
        difficulty = max(k.difficulty for k in hunts)
        minutes = max(k.minutes for k in hunts)
        why = f"a planted bug from one of {len(hunts)} files; " + _new_reason(difficulty, minutes)
        cards.append(_Card(HUNTS, difficulty, minutes, why))
    return cards


def _is_due(r: Recommendation, now: datetime) -> bool:
    return r.due is not None and r.due <= now


def _new_reason(difficulty: int, minutes: int) -> str:
    return f"never tried; difficulty {difficulty}/5, {minutes} min"


def _reason(history: list[Attempt], now: datetime) -> str:
    """What the grader saw across the attempts, most telling first, and when."""
    last = history[-1]
    parts: list[str] = []
    fails = sum(not a.passed for a in history)
    if not last.passed:
        # An attempt counts once per test, whatever its parameters.
        tests = Counter(t for a in history for t in {_readable(t) for t in a.failing_tests})
        if tests:
            test, times = tests.most_common(1)[0]
            parts.append(f"failed {test} {_times(times)}")
        else:
            parts.append(f"not passed {_times(fails)}")
    elif fails:
        parts.append(f"passed after {fails} attempt{'s' if fails > 1 else ''} that did not")
    else:
        parts.append(f"passed {_times(len(history))}" if len(history) > 1 else "passed")
    if last.failing_checks:
        parts.append(f"{' and '.join(last.failing_checks)} not within budget")
    if last.over_time:
        parts.append("over time")
    if last.hints:
        parts.append(f"{last.hints} hint{'s' if last.hints > 1 else ''}")
    parts.append(f"last tried {_ago(last.at, now)}")
    return ", ".join(parts)


def _readable(test: str) -> str:
    """`test_rolling.py::test_wraps_around[8]` -> `wraps around`."""
    name = test.rsplit("::", 1)[-1]
    name = re.sub(r"\[.*\]$", "", name).removeprefix("test_")
    return f"'{name.replace('_', ' ')}'"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _ago(at: datetime, now: datetime) -> str:
    days = (now - at).days
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def utcnow() -> datetime:
    return datetime.now(UTC)


def estimation_topic(topics: list[str], practised: dict[str, tuple[int, float]]) -> tuple[str, str]:
    """The estimation topic to drill next, and why: one never practised (in the order
    given), else the one whose recent answers score lowest. `practised`: topic ->
    (answers, mean score of the recent ones, 0 to 1)."""
    for topic in topics:
        if topic not in practised:
            return topic, "never practised"
    topic = min(practised, key=lambda t: (practised[t][1], t))
    answers, recent = practised[topic]
    return topic, f"recent answers score {recent:.0%} ({answers} answered)"
