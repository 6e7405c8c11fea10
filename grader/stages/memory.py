"""The memory check: peak bytes of the candidate against the reference and the kata's budget."""

from __future__ import annotations

from grader.context import GradeContext
from grader.report import Check
from grader.sandbox import ChildResult
from grader.stages.measure import failure, first
from grader.wording import size

# Setup is measured from before the solution's import: importing a module or two that
# the reference does not (a few MiB) is not what the memory check is about.
IMPORT_ALLOWANCE_BYTES = 8 << 20


def check_memory(ctx: GradeContext, result: ChildResult) -> Check:
    """Peak resident memory of the candidate's worker over the memory case, against the
    reference's worker on the same calls (the kernel's accounting, `grader.judge.measuring`).
    Memory left resident by importing the solution and building the case counts too,
    against the same budget (plus an allowance for imports): memory reserved before the
    measured calls cannot hide their cost."""
    spec = ctx.kata.memory
    assert spec is not None
    record = first(result, "memory")
    if record is None:
        return Check("memory", "fail", reason=failure(result, "memory"))
    if "error" in record:
        if record.get("who") == "reference":
            why = f"the reference's memory case failed: {record['error']}"
            return Check("memory", "error", reason=why)
        return Check("memory", "fail", reason=f"memory case did not run: {record['error']}")
    if "differs" in record:
        reason = (
            "the memory case's result differs from the reference's on the same inputs "
            f"({record['differs']}): a measurement only counts for a correct result"
        )
        return Check("memory", "fail", reason=reason)
    peak, ref_peak = int(record["peak_bytes"]), int(record["reference_peak_bytes"])
    setup, ref_setup = int(record["setup_bytes"]), int(record["reference_setup_bytes"])
    budget = int(spec.max_ratio * ref_peak + spec.slack_bytes)
    setup_budget = int(spec.max_ratio * ref_setup + spec.slack_bytes + IMPORT_ALLOWANCE_BYTES)
    details = {
        "peak_bytes": peak,
        "reference_peak_bytes": ref_peak,
        "budget_bytes": budget,
        "setup_bytes": setup,
        "reference_setup_bytes": ref_setup,
        "setup_budget_bytes": setup_budget,
    }
    problems = []
    if peak > budget:
        times = (
            f"{peak / ref_peak:.1f}x the reference's {size(ref_peak)}"
            if ref_peak
            else (f"the reference's {size(ref_peak)}")
        )
        problems.append(f"peak {size(peak)} is {times} (budget {size(budget)})")
    if setup > setup_budget:
        problems.append(
            f"importing and setting up kept {size(setup)} resident before the measured calls, "
            f"the reference {size(ref_setup)} (budget {size(setup_budget)})"
        )
    if not problems:
        return Check("memory", "pass", details=details)
    reason = "; ".join(problems)
    if spec.advice:
        reason += f": {spec.advice}"
    return Check("memory", "fail", reason=reason, details=details)
