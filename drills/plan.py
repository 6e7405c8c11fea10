"""`drill plan`: a study plan over days, ticked off from the history.

The plan is laid out once (`drill plan --days 14`) and kept in the data folder. Each kata
is learnt once, easiest first, then re-done two and five days later (expanding gaps:
what is recalled after a pause is what stays); the last quarter of the plan holds mock
interviews of the hardest katas. Each day holds at most `minutes_per_day` of work; what
does not fit is left out, and the plan says so. When not everything fits, learning comes
first, then the mocks, then a short estimation drill every other day, then the re-dos:
with many katas and few days, re-doing is what gives.

Bug hunts are a format rather than katas to learn one by one: a new attempt draws a
bug not seen before, from any family. The plan holds one bug hunt in each week of it
(days 0-6, 7-13, ...; see `_hunt_weeks`), mid-week (`drill start bug-hunt`), learnt with
the katas; an attempt at any family ticks it.

An item is ticked by an attempt at its kata (its last grade in the history), each
attempt ticking the earliest open item of that kata: a kata done a day early counts.
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from drills.hunt import ALIAS as HUNTS  # the item `drill start bug-hunt` takes
from grader.errors import BadInput
from grader.paths import data_dir

if TYPE_CHECKING:
    from pathlib import Path

    from drills.schedule import Attempt
    from grader.kata import Kata

Kind = Literal["learn", "again", "mock", "estimate"]
KINDS: tuple[Kind, ...] = ("learn", "again", "mock", "estimate")
REPEAT_AFTER_DAYS = (2, 5)  # after the first attempt: re-do on these days
MOCK_EXTRA_MIN = 15  # a mock interview's clarifications and follow-ups
MOCK_SHARE = 0.25  # the last quarter of the plan
ESTIMATE_EVERY_DAYS = 2  # a short estimation drill every other day, topics in turn
ESTIMATE_MIN = 10
ESTIMATE_COUNT = 5  # questions per drill
HUNT_EVERY_DAYS = 7  # one bug hunt in each week of the plan (one in any plan)


@dataclass(frozen=True)
class Item:
    day: int  # 0 is the plan's first day
    kind: Kind
    kata: str  # for an estimation drill: its topic
    minutes: int

    def label(self) -> str:
        return {
            "learn": f"drill start {self.kata}",
            "again": f"drill start {self.kata} --again",
            "mock": f"drill mock start {self.kata}",
            "estimate": f"drill estimate {self.kata} --count {ESTIMATE_COUNT}",
        }[self.kind]


@dataclass(frozen=True)
class Plan:
    start: date
    days: int
    minutes_per_day: int
    items: list[Item]
    left_out: list[Item]

    def day_of(self, when: date) -> int:
        return (when - self.start).days

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "minutes_per_day": self.minutes_per_day,
            "items": [asdict(i) for i in self.items],
            "left_out": [asdict(i) for i in self.left_out],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            start=date.fromisoformat(data["start"]),
            days=int(data["days"]),
            minutes_per_day=int(data["minutes_per_day"]),
            items=[Item(**i) for i in data["items"]],
            left_out=[Item(**i) for i in data["left_out"]],
        )


def make_plan(
    katas: list[Kata], start: date, days: int, minutes_per_day: int, topics: tuple[str, ...] = ()
) -> Plan:
    if days < 1:
        raise BadInput(f"a plan needs at least one day, not {days}")
    if minutes_per_day < min((k.minutes for k in katas), default=1):
        raise BadInput(f"{minutes_per_day} minutes a day fits no kata: give --minutes more")
    hunts = [k for k in katas if k.is_bug_hunt]
    order = sorted(
        (k for k in katas if not k.is_bug_hunt), key=lambda k: (k.difficulty, k.minutes, k.id)
    )
    mock_from = days - max(1, round(days * MOCK_SHARE)) if days > 3 else days
    # (priority, the days it may go on in the order tried, item on the first of them):
    # learning every kata comes first, then the mocks, then the estimation drills, then
    # the first re-do of each, then the second re-dos.
    wanted: list[tuple[int, Sequence[int], Item]] = []
    for n, kata in enumerate(order):
        first = min(n * mock_from // len(order), max(mock_from - 1, 0))  # spread, in order
        wanted.append((0, range(first, days), Item(first, "learn", kata.id, kata.minutes)))
        for rank, gap in enumerate(REPEAT_AFTER_DAYS):
            day = first + gap
            item = Item(day, "again", kata.id, kata.minutes)
            wanted.append((3 if rank == 0 else 4, range(day, days), item))
    if hunts:
        minutes = max(k.minutes for k in hunts)
        for week in _hunt_weeks(days, mock_from):
            wanted.append((0, week, Item(week[0], "learn", HUNTS, minutes)))
    hardest = sorted(order, key=lambda k: (-k.difficulty, -k.minutes, k.id))
    for kata in hardest[: days - mock_from]:
        item = Item(mock_from, "mock", kata.id, kata.minutes + MOCK_EXTRA_MIN)
        wanted.append((1, range(mock_from, days), item))
    # Estimation drills (`topics`): every other day from the second, topics in turn.
    for n, day in enumerate(range(1, days, ESTIMATE_EVERY_DAYS)):
        if topics:
            topic = topics[n % len(topics)]
            wanted.append((2, range(day, days), Item(day, "estimate", topic, ESTIMATE_MIN)))
    return _fill(start, days, minutes_per_day, wanted)


def _hunt_weeks(days: int, mock_from: int) -> list[list[int]]:
    """For each week of the plan, the days its bug hunt may go on, in the order tried.

    A week is days 7w to 7w + 6. Days left over after the last whole week are a week of
    their own when there are four or more of them, and join the last week otherwise (a
    plan of any length holds at least one). The hunt goes mid-week, among the week's
    days before the mocks where it has any, so that the hunts spread out and the mock
    days stay for the mocks; then the rest of the week, from that day on and back.
    A week with no room keeps no hunt: the hunt is left out, never moved to the next
    week, which holds its own."""
    weeks = max(1, round(days / HUNT_EVERY_DAYS))  # never a tie: 7 is odd
    tries: list[list[int]] = []
    for w in range(weeks):
        first = w * HUNT_EVERY_DAYS
        end = days if w == weeks - 1 else first + HUNT_EVERY_DAYS
        before_mocks = range(first, min(end, mock_from)) or range(first, end)
        middle = before_mocks[len(before_mocks) // 2]
        tries.append([*range(middle, end), *range(middle - 1, first - 1, -1)])
    return tries


def _fill(
    start: date, days: int, per_day: int, wanted: list[tuple[int, Sequence[int], Item]]
) -> Plan:
    """Place each item, most important first (and, among equals, the earliest first), on
    the first day it may go on with room for it."""
    used = [0] * days
    placed: list[Item] = []
    left: list[Item] = []
    for _, tries, item in sorted(wanted, key=lambda w: (w[0], w[2].day)):
        day = next((d for d in tries if used[d] + item.minutes <= per_day), None)
        if day is None:
            left.append(item)
            continue
        used[day] += item.minutes
        placed.append(Item(day, item.kind, item.kata, item.minutes))
    # Within a day and a kind, in the order placed: the easiest learnt first.
    placed.sort(key=lambda i: (i.day, KINDS.index(i.kind)))
    return Plan(start, days, per_day, placed, left)


MOST_MINUTES = 480  # a day's practice, at the most, that `minutes_to_fit` suggests


def minutes_to_fit(
    katas: list[Kata], start: date, days: int, minutes_per_day: int, topics: tuple[str, ...] = ()
) -> int | None:
    """The fewest minutes a day (a multiple of 10) at which every first try and mock
    interview of the plan fits; None when they fit already, or would not in 8 hours."""

    def fits(minutes: int) -> bool:
        plan = make_plan(katas, start, days, minutes, topics)
        return not any(i.kind in ("learn", "mock") for i in plan.left_out)

    if fits(minutes_per_day):
        return None
    first = minutes_per_day // 10 * 10 + 10
    return next((m for m in range(first, MOST_MINUTES + 1, 10) if fits(m)), None)


def ticked(
    plan: Plan, attempts: list[Attempt], drills: Sequence[tuple[datetime, frozenset[str]]] = ()
) -> set[int]:
    """Indexes into `plan.items` of the items done: each attempt since the plan began
    ticks the earliest open item of its kata; each estimation drill (when, its topics)
    the earliest open estimation item of a topic it covered."""
    done: set[int] = set()

    def tick(estimate: bool, names: Container[str]) -> None:
        for i, item in enumerate(plan.items):
            if i not in done and (item.kind == "estimate") == estimate and item.kata in names:
                done.add(i)
                return

    for a in attempts:
        if a.at.astimezone().date() >= plan.start:
            tick(False, (a.kata, HUNTS) if a.kata.startswith(f"{HUNTS}-") else (a.kata,))
    for at, topics in drills:
        if at.astimezone().date() >= plan.start:
            tick(True, topics)
    return done


def plan_path() -> Path:
    return data_dir() / "plan.json"


def save(plan: Plan) -> None:
    from drills.workspace import write_atomic

    path = plan_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(plan.to_json(), indent=2) + "\n")


def load() -> Plan | None:
    path = plan_path()
    try:
        return Plan.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(
            f"{path} is not a plan drill can read ({type(exc).__name__}: {exc}); make a new "
            "one with `drill plan --days N`"
        ) from None


def today() -> date:
    return date.today()  # the candidate's local day
