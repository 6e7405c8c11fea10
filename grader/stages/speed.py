"""The speed check: the median time ratio against the reference, and growth where it matters."""

from __future__ import annotations

from typing import Any

from grader.context import GradeContext
from grader.judge.timing import Comparison
from grader.kata import SpeedSpec
from grader.report import Check
from grader.sandbox import ChildResult
from grader.stages.measure import failure, first, measured_device
from grader.wording import duration


def check_speed(ctx: GradeContext, result: ChildResult) -> Check:
    spec = ctx.kata.speed
    assert spec is not None
    device = measured_device(result, ctx.device)
    record = first(result, "speed")
    if record is None:
        return Check("speed", "fail", reason=failure(result, "speed"), details={"device": device})
    if "error" in record:
        return Check(
            "speed",
            "fail",
            reason=f"speed case did not run: {record['error']}",
            details={"device": device},
        )
    if "differs" in record:
        reason = (
            "while being timed, the solution returned results that differ from the "
            f"reference's on the same inputs ({record['differs']}): speed only counts for "
            "a correct result"
        )
        return Check("speed", "fail", reason=reason, details={"device": device})
    ratio = float(record["ratio"])
    details: dict[str, object] = {
        "ratio": round(ratio, 3),
        "candidate_s": record["candidate_s"],
        "reference_s": record["reference_s"],
        "device": device,
        "budget_ratio": spec.max_ratio,
        "rounds": record["rounds"],
        "interval": _rounded(record.get("interval")),
        "reference_spread": round(float(record.get("spread", 0.0)), 3),
        "channel_s": record.get("channel_s"),
        "checked_calls": record.get("checked_calls"),
    }
    if "baseline_ratio" in record:
        original = float(record["baseline_ratio"])
        details.update(baseline_ratio=round(original, 3), speedup=round(original / ratio, 2))
    comparison = _comparison(record, "interval", "spread")
    verdicts = {"ratio": comparison.verdict(spec.max_ratio)}
    problems: list[tuple[str, str]] = []  # (what failed, why)
    if spec.tiers and verdicts["ratio"] != "pass":
        share = _tier_share(comparison, spec)
        if share is None:
            verdicts["ratio"] = "unsure"
        else:
            details["tier_share"] = share
            verdicts["ratio"] = "tier"
            problems.append(("ratio", _tier_reason(ratio, share, spec, record, device)))
    if spec.sizes and spec.max_growth is not None:
        growth = float(record["growth"])
        details.update(
            growth=round(growth, 3),
            growth_interval=_rounded(record.get("growth_interval")),
            reference_growth=round(float(record["reference_growth"]), 3),
            budget_growth=spec.max_growth,
            sizes=list(spec.sizes),
        )
        verdicts["growth"] = _comparison(
            {**record, "ratio": growth}, "growth_interval", "growth_spread"
        ).verdict(spec.max_growth)
        if verdicts["growth"] == "fail":
            small, large = spec.sizes
            problems.append(
                (
                    "growth",
                    f"time grows {growth:.1f}x from size {small} to {large} (budget "
                    f"{spec.max_growth:g}x; the reference grows "
                    f"{float(record['reference_growth']):.1f}x)",
                )
            )
    if verdicts["ratio"] == "fail":
        problems.append(
            (
                "ratio",
                f"{ratio:.1f}x slower than the reference (budget {spec.max_ratio:g}x; "
                f"{_per_call(record, device)})",
            )
        )
    if problems:
        reason = "; ".join(why for _, why in problems)
        if "speedup" in details:
            reason += f"; {details['speedup']:.1f}x faster than the file you were given"
        failed = {what for what, _ in problems}
        # The advice that speaks to what was measured: growth's when growth failed.
        advice = spec.growth_advice if "growth" in failed and spec.growth_advice else spec.advice
        if advice:
            reason += f": {advice}"
        return Check("speed", "fail", reason=reason, details=details)
    if "unsure" in verdicts.values():
        unsure = ", ".join(k for k, v in verdicts.items() if v == "unsure")
        reason = (
            f"could not measure reliably: the machine was busy (the {unsure} stayed within "
            "noise of its budget while the reference's own times varied); this costs no "
            "points: run `drill grade --only speed` again when the machine is quieter"
        )
        return Check("speed", "unmeasured", reason=reason, details=details)
    return Check("speed", "pass", details=details)


def _rounded(pair: object) -> list[float] | None:
    if not isinstance(pair, list) or len(pair) != 2:
        return None
    return [round(float(x), 3) for x in pair]


def _comparison(record: dict[str, Any], interval: str, spread: str) -> Comparison:
    low, high = record.get(interval) or [0.0, float("inf")]
    return Comparison(
        ratio=float(record["ratio"]),
        a_s=0.0,
        b_s=0.0,
        rounds=int(record.get("rounds", 0)),
        low=float(low),
        high=float(high),
        b_spread=float(record.get(spread, 0.0)),
    )


def _tier_share(comparison: Comparison, spec: SpeedSpec) -> float | None:
    """The share of the speed weight the ratio earns: that of the best tier it is within
    (1 within max_ratio, 0 past the last tier); None when the machine was too busy to
    tell a tier from the one above it."""
    for boundary, share in ((spec.max_ratio, 1.0), *spec.tiers):
        verdict = comparison.verdict(boundary)
        if verdict == "unsure":
            return None
        if verdict == "pass":
            return share
    return 0.0


def _tier_reason(
    ratio: float, share: float, spec: SpeedSpec, record: dict[str, Any], device: str
) -> str:
    per_call = _per_call(record, device)
    head = f"{ratio:.1f}x the reference's time ({per_call}; full marks within {spec.max_ratio:g}x)"
    if share == 0:
        return f"{head}: past the last tier ({spec.tiers[-1][0]:g}x), no speed points"
    tier = next(r for r, s in spec.tiers if s == share)
    return f"{head}: within the {tier:g}x tier, {share:.0%} of the speed points"


def _per_call(record: dict[str, Any], device: str) -> str:
    """The times beside a ratio. The ratio is the median of each round's ratio, not the
    ratio of these medians: the two can differ by a tenth or more on a busy machine."""
    rounds = int(record.get("rounds", 0))
    of = f"the median of {rounds} paired rounds" if rounds else "paired rounds"
    return (
        f"{of}; a timed call took {duration(float(record['candidate_s']))} vs "
        f"{duration(float(record['reference_s']))} on {device}"
    )
