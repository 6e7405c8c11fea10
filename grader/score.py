"""The score: weights from kata.yaml over the checks that ran; hints cost points.

Memory, speed, integration and the size of a bug hunt's fix count only once every
hidden test passes: a fast wrong answer is not worth points, an interviewer would not
look at its speed, and an untouched file is not a small fix.
Partial credit is linear: tests by the share that pass; types lose a tenth per
error; memory, speed and a fix's size lose everything between 1x and 2x their budget (speed
by the kata's tiers instead, where it has them).
"""

from __future__ import annotations

from grader.checks import GATED
from grader.kata import Kata
from grader.report import Check


def _fraction(check: Check) -> float:
    d = check.details
    if check.name == "tests":
        return (
            d.get("passed", 0) / d["total"] if check.status != "error" and d.get("total") else 0.0
        )
    if check.status == "pass":
        return 1.0
    if check.status != "fail":
        return 0.0
    if check.name == "types":
        if d.get("evasions"):
            return 0.0  # mypy was kept from checking: nothing it said counts
        return max(0.0, 1.0 - 0.1 * int(d.get("errors", 10)))
    if check.name == "memory" and d.get("budget_bytes"):
        over = float(d["peak_bytes"]) / float(d["budget_bytes"])
        if d.get("setup_budget_bytes"):
            over = max(over, float(d["setup_bytes"]) / float(d["setup_budget_bytes"]))
        if "footprint_budget_bytes" in d:  # held before the calls beyond the reference's
            held_before = float(d["footprint_budget_bytes"]) - float(d["budget_bytes"])
            charged = float(d["footprint_bytes"]) - held_before
            over = max(over, charged / float(d["budget_bytes"]))
        return max(0.0, 2.0 - over)
    if check.name == "diff" and d.get("budget_lines"):
        return max(0.0, 2.0 - float(d["changed_lines"]) / float(d["budget_lines"]))
    if check.name == "speed" and "tier_share" in d:
        within = d.get("growth", 0) <= d.get("budget_growth", float("inf"))
        return float(d["tier_share"]) if within else 0.0
    if (
        check.name == "speed"
        and "ratio" in d
        and d.get("growth", 0) <= d.get("budget_growth", float("inf"))
    ):
        return max(0.0, 2.0 - float(d["ratio"]) / float(d["budget_ratio"]))
    return 0.0


def score(kata: Kata, checks: dict[str, Check], hints_taken: int) -> tuple[float, float, bool]:
    """Fill each check's score and max; return (total, hint penalty, passed)."""
    tests = checks.get("tests")
    correct = tests is not None and tests.status == "pass"
    for name, check in checks.items():
        check.max = kata.weights.get(name, 0.0)
        # Speed or memory of a wrong answer earns nothing. A partial grade that left the
        # tests out (`--only speed`) reports its measurement as it stands.
        if name in GATED and tests is not None and not correct and check.status in ("pass", "fail"):
            measured = f" (measured: {check.reason or 'within budget'})"
            check.status = "skip"
            check.reason = f"not scored until every hidden test passes{measured}"
        check.score = check.max * _fraction(check)
    # A check the machine was too busy to measure neither earns nor costs points.
    possible = sum(c.max for c in checks.values() if c.status != "unmeasured")
    raw = 100.0 * sum(c.score for c in checks.values()) / possible if possible else 0.0
    penalty = kata.hint_cost * hints_taken
    total = max(0.0, min(100.0, raw - penalty))
    passed = correct and total >= kata.pass_mark
    return total, penalty, passed
