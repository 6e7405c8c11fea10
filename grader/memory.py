"""Stage 3, memory: peak bytes of the candidate against the reference and the kata's budget."""

from __future__ import annotations

from grader.context import GradeContext
from grader.measure import failure, first
from grader.render.common import size
from grader.report import Check
from grader.sandbox import ChildResult


def check_memory(ctx: GradeContext, result: ChildResult) -> Check:
    spec = ctx.kata.memory
    assert spec is not None
    ref = first(result, "memory", who="reference")
    cand = first(result, "memory", who="candidate")
    if ref is None or "error" in ref:
        why = ref["error"] if ref else failure(result, "memory")
        return Check("memory", "error", reason=f"the reference's memory case failed: {why}")
    if cand is None or "error" in cand:
        why = f"your code raised {cand['error']}" if cand else failure(result, "memory")
        return Check("memory", "fail", reason=f"memory case did not run: {why}")
    peak, ref_peak = int(cand["peak_bytes"]), int(ref["peak_bytes"])
    budget = int(spec.max_ratio * ref_peak + spec.slack_bytes)
    details = {"peak_bytes": peak, "reference_peak_bytes": ref_peak, "budget_bytes": budget}
    if peak <= budget:
        return Check("memory", "pass", details=details)
    times = (
        f"{peak / ref_peak:.1f}x the reference's {size(ref_peak)}"
        if ref_peak
        else f"reference {size(ref_peak)}"
    )
    reason = f"peak {size(peak)} is {times} (budget {size(budget)})"
    if spec.advice:
        reason += f": {spec.advice}"
    return Check("memory", "fail", reason=reason, details=details)
