"""Stage 4, speed: the median time ratio against the reference, and growth where it matters."""

from __future__ import annotations

from grader.context import GradeContext
from grader.report import Check
from grader.sandbox import ChildResult
from grader.stages.measure import failure, first, measured_device


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-4 else f"{seconds * 1e6:.3g} us"


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
            reason=f"speed case did not run: your code raised {record['error']}",
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
        "interval": record.get("interval"),
        "channel_s": record.get("channel_s"),
        "checked_calls": record.get("checked_calls"),
    }
    problems = []
    if spec.sizes and spec.max_growth is not None:
        growth = float(record["growth"])
        details.update(
            growth=round(growth, 3),
            reference_growth=round(float(record["reference_growth"]), 3),
            budget_growth=spec.max_growth,
            sizes=list(spec.sizes),
        )
        if growth > spec.max_growth:
            small, large = spec.sizes
            problems.append(
                f"time grows {growth:.1f}x from size {small} to {large} (budget {spec.max_growth:g}x; "
                f"the reference grows {float(record['reference_growth']):.1f}x)"
            )
    if ratio > spec.max_ratio:
        problems.append(
            f"{ratio:.1f}x slower than the reference (budget {spec.max_ratio:g}x): "
            f"{ms(float(record['candidate_s']))} vs {ms(float(record['reference_s']))} per call on {device}"
        )
    if not problems:
        return Check("speed", "pass", details=details)
    reason = "; ".join(problems)
    if spec.advice:
        reason += f": {spec.advice}"
    return Check("speed", "fail", reason=reason, details=details)
