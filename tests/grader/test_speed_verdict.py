"""The speed check's verdict from the measuring judge's figures: pass, fail, or
"could not measure reliably", and the advice that matches what failed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from grader.context import GradeContext
from grader.kata import Kata, SpeedSpec
from grader.sandbox import ChildResult
from grader.score import score
from grader.stages.speed import check_speed

SPEC = SpeedSpec(
    "speed_case",
    max_ratio=3.0,
    sizes=(1024, 8192),
    max_growth=2.0,
    advice="RATIO ADVICE",
    growth_advice="GROWTH ADVICE",
)


def speed_record(**fields: Any) -> ChildResult:
    record = {
        "kind": "speed",
        "ratio": 1.0,
        "candidate_s": 0.01,
        "reference_s": 0.01,
        "rounds": 21,
        "interval": [0.9, 1.1],
        "spread": 0.02,
        "growth": 1.0,
        "growth_interval": [0.9, 1.1],
        "growth_spread": 0.02,
        "reference_growth": 1.0,
        **fields,
    }
    return ChildResult([{"kind": "device", "device": "cpu"}, record], 0, False, 1.0)


@pytest.fixture
def ctx(toy_kata: Kata, tmp_path: Path) -> GradeContext:
    kata = dataclasses.replace(toy_kata, speed=SPEC)
    return GradeContext(kata, tmp_path, tmp_path, "cpu", None)  # type: ignore[arg-type]


def test_growth_failure_gives_the_growth_advice(ctx: GradeContext) -> None:
    check = check_speed(ctx, speed_record(growth=8.0, growth_interval=[7.5, 8.5]))
    assert check.status == "fail"
    assert "time grows 8.0x" in check.reason and "GROWTH ADVICE" in check.reason
    assert "slower than the reference" not in check.reason and "RATIO" not in check.reason


def test_ratio_failure_gives_the_ratio_advice(ctx: GradeContext) -> None:
    check = check_speed(ctx, speed_record(ratio=5.0, interval=[4.5, 5.5]))
    assert check.status == "fail"
    assert "5.0x slower" in check.reason and "RATIO ADVICE" in check.reason
    assert "grows" not in check.reason and "GROWTH" not in check.reason


def test_a_busy_machine_near_the_budget_is_unmeasured_and_costs_nothing(
    ctx: GradeContext,
) -> None:
    check = check_speed(ctx, speed_record(ratio=3.1, interval=[2.2, 4.0], spread=0.4))
    assert check.status == "unmeasured"
    assert "could not measure reliably" in check.reason and "--only speed" in check.reason
    from grader.report import Check

    checks = {"tests": Check("tests", "pass", details={"passed": 7, "total": 7}), "speed": check}
    kata = dataclasses.replace(ctx.kata, weights={"tests": 80.0, "speed": 20.0})
    total, _, passed = score(kata, checks, hints_taken=0)
    assert total == pytest.approx(100.0) and passed


def test_a_quiet_machine_near_the_budget_decides_by_the_median(ctx: GradeContext) -> None:
    check = check_speed(ctx, speed_record(ratio=3.1, interval=[2.2, 4.0], spread=0.03))
    assert check.status == "fail"
