"""`drill plan`: a plan laid out from the katas, ticked off from the history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from drills.plan import make_plan, minutes_to_fit, ticked
from drills.schedule import Attempt
from grader.errors import BadInput
from grader.kata import all_katas
from grader.paths import BUILTIN_KATAS

KATAS = all_katas(BUILTIN_KATAS)
# The first seven katas: a catalogue whose learning fits five days of 90 minutes.
SEVEN = [
    k for k in KATAS
    if k.id in {"sampling", "bpe-tokenizer", "sliding-window-mask", "kv-cache",
                "paged-allocator", "moe-router", "ring-allreduce"}
]  # fmt: skip
START = date(2026, 12, 7)
# What a plan learns: every kata but the bug hunts, which it holds as `drill start bug-hunt`.
LEARNT = {k.id for k in KATAS if not k.is_bug_hunt} | {"bug-hunt"}


def attempt(kata: str, on: date) -> Attempt:
    at = datetime(on.year, on.month, on.day, 12, tzinfo=UTC)
    return Attempt(kata, at, 90.0, True, 0, 600.0, False, False, (), ())


def test_two_weeks_learn_every_kata_easiest_first_then_redo_then_mock() -> None:
    plan = make_plan(KATAS, START, 14, 90)
    learnt = [i for i in plan.items if i.kind == "learn"]
    assert {i.kata for i in learnt} == LEARNT
    difficulty = {k.id: k.difficulty for k in KATAS}
    levels = [difficulty[i.kata] for i in learnt if i.kata in difficulty]
    assert levels == sorted(levels)
    first = {i.kata: i.day for i in learnt}
    for item in plan.items:
        if item.kind == "again":
            assert item.day >= first[item.kata] + 2
        if item.kind == "mock":
            assert item.day >= 14 - round(14 * 0.25)
    for day in range(14):
        assert sum(i.minutes for i in plan.items if i.day == day) <= 90
    assert any(i.kind == "mock" for i in plan.items)
    assert make_plan(KATAS, START, 14, 90) == plan


def test_what_does_not_fit_is_left_out_and_named() -> None:
    short = make_plan(SEVEN, START, 5, 90)
    assert short.left_out and all(i.kind in ("again", "mock") for i in short.left_out)
    assert {i.kata for i in short.items if i.kind == "learn"} == {k.id for k in SEVEN}
    roomy = make_plan(KATAS, START, 28, 150)
    assert roomy.left_out == []


def test_with_more_katas_than_days_re_dos_give_way_to_learning_and_mocks() -> None:
    plan = make_plan(KATAS, START, 14, 120)
    assert {i.kata for i in plan.items if i.kind == "learn"} == LEARNT
    assert len([i for i in plan.items if i.kind == "mock"]) == round(14 * 0.25)
    assert plan.left_out and all(i.kind == "again" for i in plan.left_out)


def test_a_plan_needs_a_day_and_time_for_a_kata() -> None:
    with pytest.raises(BadInput, match="fits no kata"):
        make_plan(KATAS, START, 7, 20)


def test_each_attempt_ticks_the_earliest_open_item_of_its_kata() -> None:
    plan = make_plan(KATAS, START, 14, 90)
    sampling = [n for n, i in enumerate(plan.items) if i.kata == "sampling"]
    done = ticked(
        plan,
        [
            attempt("sampling", START - timedelta(days=1)),  # before the plan: not counted
            attempt("sampling", START),
            attempt("sampling", START + timedelta(days=1)),  # a day early for its re-do
        ],
    )
    assert done == set(sampling[:2])


def test_drill_plan_lays_out_saves_and_ticks_from_the_history(isolated_home: Path) -> None:
    env = {**os.environ, "DRILL_HOME": str(isolated_home)}

    def drill(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "drills", *args], env=env, capture_output=True, text=True
        )

    assert json.loads(drill("plan", "-f", "json").stdout) is None
    made = drill("plan", "--weeks", "2", "-f", "json")
    assert made.returncode == 0, made.stderr
    from drills.history import History
    from grader.report import Check, Report

    History().record(
        "a1",
        Path("/w"),
        Report(
            kata="sampling", score=95.0, passed=True, elapsed_s=900.0, limit_s=1800.0,
            hints_taken=0, checks={"tests": Check("tests", "pass")}, pass_mark=80,
            graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ),
    )  # fmt: skip
    shown = json.loads(drill("plan", "-f", "json").stdout)
    assert shown["days"] == 14 and shown["today"] == 0
    first_sampling = next(n for n, i in enumerate(shown["items"]) if i["kata"] == "sampling")
    assert shown["done"] == [first_sampling]
    both = drill("plan", "--days", "3", "--weeks", "1")
    assert both.returncode == 2 and "give one" in both.stderr


def test_what_did_not_fit_is_summed_up_by_kind(isolated_home: Path) -> None:
    env = {**os.environ, "DRILL_HOME": str(isolated_home), "COLUMNS": "400"}
    shown = subprocess.run(
        [sys.executable, "-m", "drills", "plan", "--days", "3"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (line,) = [line for line in shown.splitlines() if line.startswith("Did not fit: ")]
    from drills.estimate.names import TOPIC_NAMES

    plan = make_plan(KATAS, START, 3, 90, tuple(TOPIC_NAMES))
    unlearnt = [i.kata for i in plan.left_out if i.kind == "learn"]
    redos = [i for i in plan.left_out if i.kind == "again"]
    assert len(unlearnt) > 1 and redos
    assert line.startswith(f"Did not fit: the first try of {', '.join(unlearnt[:-1])} and ")
    katas = len({i.kata for i in redos})
    fits = minutes_to_fit(KATAS, START, 3, 90, tuple(TOPIC_NAMES))
    assert fits is not None
    assert line.endswith(
        f"; {len(redos)} re-dos of {katas} katas (--minutes {fits} fits every first try and "
        "mock interview; --format json lists each)."
    )


def test_the_minutes_suggested_are_the_fewest_that_fit_every_first_try_and_mock() -> None:
    def unfit(minutes: int) -> set[str]:
        return {i.kind for i in make_plan(KATAS, START, 14, minutes).left_out}

    fits = minutes_to_fit(KATAS, START, 14, 90)
    assert fits is not None and fits % 10 == 0
    assert unfit(fits) <= {"again"} and unfit(fits - 10) & {"learn", "mock"}
    assert minutes_to_fit(KATAS, START, 14, fits) is None  # nothing to suggest
    assert minutes_to_fit(KATAS, START, 1, 90) is None  # not even in 8 hours a day


def test_an_unreadable_plan_is_named_with_the_way_out(isolated_home: Path) -> None:
    from drills.plan import load, plan_path

    plan_path().parent.mkdir(parents=True, exist_ok=True)
    plan_path().write_text("{not json")
    with pytest.raises(BadInput, match=r"plan.json is not a plan drill can read .* --days N"):
        load()


def test_estimation_drills_fill_every_other_day_and_are_ticked_by_a_session() -> None:
    plan = make_plan(SEVEN, START, 14, 120, ("kv-cache", "decode"))
    drills = [(n, i) for n, i in enumerate(plan.items) if i.kind == "estimate"]
    assert [i.kata for _, i in drills[:2]] == ["kv-cache", "decode"]
    assert all(i.minutes == 10 for _, i in drills)
    days = [i.day for _, i in drills]
    assert all(day >= 1 + 2 * n for n, day in enumerate(days)) and days == sorted(set(days))
    for day in range(1, 14, 2):  # every other day holds a drill, unless it is full
        used = sum(i.minutes for i in plan.items if i.day == day)
        assert day in days or used + 10 > 120
    assert drills[0][1].label() == "drill estimate kv-cache --count 5"
    session = datetime(2026, 12, 8, 9, tzinfo=UTC)
    done = ticked(plan, [], [(session, frozenset({"decode", "weights"}))])
    assert done == {drills[1][0]}  # the first drill of a topic the session asked


def test_bug_hunts_are_one_a_week_ticked_by_an_attempt_at_any_family() -> None:
    plan = make_plan(KATAS, START, 14, 120)
    hunts = [n for n, i in enumerate(plan.items) if i.kata == "bug-hunt"]
    assert len(hunts) == 2 and all(plan.items[n].kind == "learn" for n in hunts)
    assert plan.items[hunts[0]].label() == "drill start bug-hunt"
    assert not any(i.kata.startswith("bug-hunt-") for i in [*plan.items, *plan.left_out])
    done = ticked(
        plan,
        [attempt("bug-hunt-moe", START), attempt("bug-hunt-sampling", START + timedelta(days=1))],
    )
    assert done == set(hunts)


@pytest.mark.parametrize(("days", "minutes"), [(14, 90), (14, 120), (21, 90), (28, 150), (11, 90)])
def test_each_week_of_the_plan_holds_one_bug_hunt_mid_week(days: int, minutes: int) -> None:
    plan = make_plan(KATAS, START, days, minutes)
    hunts = sorted(i.day for i in plan.items if i.kata == "bug-hunt")
    assert not [i for i in plan.left_out if i.kata == "bug-hunt"]
    weeks = round(days / 7)  # 11 days: a week and a four-day week
    assert len(hunts) == weeks
    for week, day in enumerate(hunts):
        end = days if week == weeks - 1 else 7 * week + 7
        assert 7 * week <= day < end  # in its own week
    # An attempt at a family in the second week ticks the second week's hunt too.
    attempts = [
        attempt("bug-hunt-moe", START + timedelta(days=hunts[0])),
        attempt("bug-hunt-batching", START + timedelta(days=hunts[1])),
    ]
    at = [n for n, i in enumerate(plan.items) if i.kata == "bug-hunt"]
    assert ticked(plan, attempts) == set(at[:2])


def test_a_plan_shorter_than_a_week_still_holds_a_bug_hunt() -> None:
    for days in (3, 5, 7, 10):
        plan = make_plan(KATAS, START, days, 120)
        assert [i.kata for i in [*plan.items, *plan.left_out]].count("bug-hunt") == 1


def test_first_tries_go_easiest_first_and_the_hour_long_katas_last() -> None:
    # docs/guide.md: sampling and the sliding-window mask before the KV cache; the BPE
    # trainer, flash attention and the request scheduler last.
    plan = make_plan(KATAS, START, 14, 90)
    learnt = [i.kata for i in plan.items if i.kind == "learn" and i.kata != "bug-hunt"]
    assert set(learnt[:2]) == {"sampling", "sliding-window-mask"}
    assert learnt.index("kv-cache") > 1
    assert set(learnt[-3:]) == {"bpe-tokenizer", "flash-attention", "request-scheduler"}
