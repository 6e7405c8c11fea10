"""The integration check: does the candidate's component run a real model?

The kata's integration case swaps the candidate's implementation into the reference
engine (`reference.components.Components`), a tiny model generates, and the tokens must
equal the reference engine's. The case names the first step and layer that differs.
"""

from __future__ import annotations

from grader.context import GradeContext
from grader.report import Check
from grader.sandbox import ChildResult
from grader.stages.measure import failure, first


def check_integration(ctx: GradeContext, result: ChildResult) -> Check:
    """Read the integration record of the measurement child (`grader.stages.measure`)."""
    spec = ctx.kata.integration
    assert spec is not None
    record = first(result, "integration")
    if record is None:
        return Check("integration", "fail", reason=failure(result, "the integration case"))
    if "error" in record:
        return Check("integration", "fail", reason=f"inside the engine, {record['error']}")
    details = {"device": record.get("device", ctx.device)}
    if record["difference"] is None:
        return Check("integration", "pass", details=details)
    reason = f"inside the engine: {record['difference']}"
    if spec.advice:
        reason += f" ({spec.advice})"
    return Check("integration", "fail", reason=reason, details=details)
