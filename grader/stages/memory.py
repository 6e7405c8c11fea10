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

    Three budgets, all from the reference's figures on the same case:
    - the calls' peak: `max_ratio` x the reference's, plus slack;
    - setup (import and building the case): the same rule, plus an allowance for imports;
    - the footprint, the peak over the calls above the resident size before the import:
      what the reference held before its calls plus the allowance, plus the calls'
      budget. Memory held before the calls and given back or reused during them
      (ballast, a pool grown at import) would otherwise stand in for what the calls
      use: what is held beyond the reference's counts as the calls' too.
    """
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
    held, ref_held = int(record["held_bytes"]), int(record["reference_held_bytes"])
    # What the reference held when its calls began (setup and the case's inputs).
    ref_before = max(0, ref_held - ref_peak)
    footprint_budget = ref_before + IMPORT_ALLOWANCE_BYTES + budget
    details = {
        "peak_bytes": peak,
        "reference_peak_bytes": ref_peak,
        "budget_bytes": budget,
        "setup_bytes": setup,
        "reference_setup_bytes": ref_setup,
        "setup_budget_bytes": setup_budget,
        "footprint_bytes": held,
        "reference_footprint_bytes": ref_held,
        "footprint_budget_bytes": footprint_budget,
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
    elif peak <= budget and held > footprint_budget:
        problems.append(
            f"import, setup and the calls together peaked at {size(held)}, "
            f"the reference's at {size(ref_held)} (budget {size(footprint_budget)}: what the "
            f"reference held before its calls and {size(IMPORT_ALLOWANCE_BYTES)} for imports, "
            f"then the calls' {size(budget)}); memory held before the calls counts where it "
            "is more than the reference's, since the calls can reuse it"
        )
    if not problems:
        return Check("memory", "pass", details=details)
    reason = "; ".join(problems)
    if spec.advice:
        reason += f": {spec.advice}"
    return Check("memory", "fail", reason=reason, details=details)
