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


TIERED = SpeedSpec("speed_case", max_ratio=2.0, tiers=((6.0, 0.6), (20.0, 0.3)))


@pytest.fixture
def tiered(toy_kata: Kata, tmp_path: Path) -> GradeContext:
    kata = dataclasses.replace(toy_kata, speed=TIERED, weights={"tests": 60.0, "speed": 40.0})
    return GradeContext(kata, tmp_path, tmp_path, "cpu", None)  # type: ignore[arg-type]


def tiered_score(ctx: GradeContext, check: Any) -> float:
    from grader.report import Check

    checks = {"tests": Check("tests", "pass", details={"passed": 7, "total": 7}), "speed": check}
    return score(ctx.kata, checks, hints_taken=0)[0]


@pytest.mark.parametrize(
    ("ratio", "status", "points"),
    [(1.5, "pass", 100.0), (4.0, "fail", 84.0), (12.0, "fail", 72.0), (40.0, "fail", 60.0)],
)
def test_tiers_give_the_share_of_the_best_tier_the_ratio_is_within(
    tiered: GradeContext, ratio: float, status: str, points: float
) -> None:
    check = check_speed(tiered, speed_record(ratio=ratio, interval=[ratio * 0.95, ratio * 1.05]))
    assert check.status == status
    assert tiered_score(tiered, check) == pytest.approx(points)


def test_a_tier_failure_names_the_tier_reached_and_full_marks(tiered: GradeContext) -> None:
    check = check_speed(tiered, speed_record(ratio=4.0, interval=[3.8, 4.2]))
    assert "4.0x the reference's time" in check.reason and "full marks within 2x" in check.reason
    assert "within the 6x tier, 60% of the speed points" in check.reason
    past = check_speed(tiered, speed_record(ratio=40.0, interval=[38.0, 42.0]))
    assert "past the last tier (20x), no speed points" in past.reason


def test_a_busy_machine_at_a_tier_boundary_is_unmeasured(tiered: GradeContext) -> None:
    check = check_speed(tiered, speed_record(ratio=6.1, interval=[5.0, 7.0], spread=0.4))
    assert check.status == "unmeasured"


def test_tiers_must_step_out_in_ratio_and_down_in_share(tmp_path: Path) -> None:
    import shutil

    from grader.errors import KataError
    from grader.kata import load_kata_from
    from tests.conftest import FIXTURE_KATAS

    folder = tmp_path / "top-k-indices"
    shutil.copytree(FIXTURE_KATAS / "top-k-indices", folder)
    manifest = folder / "kata.yaml"
    text = manifest.read_text()
    assert "  max_ratio: 4.0\n" in text
    manifest.write_text(
        text.replace(
            "  max_ratio: 4.0\n", "  max_ratio: 4.0\n  tiers: [{max_ratio: 3.0, share: 0.5}]\n"
        )
    )
    with pytest.raises(KataError, match=r"speed\.tiers"):
        load_kata_from(folder)


def test_the_speed_up_over_the_original_is_reported_beside_the_ratio(
    tiered: GradeContext,
) -> None:
    from grader.render.common import summary

    fast = check_speed(tiered, speed_record(ratio=1.2, interval=[1.1, 1.3], baseline_ratio=12.0))
    assert fast.status == "pass" and fast.details["speedup"] == pytest.approx(10.0)
    assert "10.0x faster than the file you were given" in summary(fast)
    slow = check_speed(tiered, speed_record(ratio=4.0, interval=[3.8, 4.2], baseline_ratio=12.0))
    assert "3.0x faster than the file you were given" in slow.reason
