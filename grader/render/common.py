"""Wording shared by the renderers, so every format says the same thing."""

from __future__ import annotations

from grader.report import Check, Report
from grader.wording import minutes, size


def summary(check: Check) -> str:
    """One line of what the check measured."""
    d = check.details
    if check.name == "tests":
        return f"{d.get('passed', 0)}/{d.get('total', 0)} passed"
    if check.name == "types":
        return f"{d.get('errors', '?')} error(s)" if "errors" in d else ""
    if check.name == "memory" and "peak_bytes" in d:
        return (
            f"peak {size(d['peak_bytes'])}, reference {size(d['reference_peak_bytes'])}, "
            f"budget {size(d['budget_bytes'])}"
        )
    if check.name == "speed" and "ratio" in d:
        text = f"{d['ratio']:.2f}x the reference's time on {d.get('device', '?')} (budget {d['budget_ratio']:g}x)"
        if "growth" in d:
            text += f", growth {d['growth']:.2f}x (budget {d['budget_growth']:g}x)"
        if "speedup" in d:
            text += f"; {d['speedup']:.1f}x faster than the file you were given"
        return text
    if check.name == "diff" and "changed_lines" in d:
        given = "the file you were given" if d.get("against_given") else "the nearest planted file"
        return f"{d['changed_lines']} code line(s) changed against {given} (budget {d['budget_lines']})"
    if check.name == "integration" and check.status == "pass":
        return "every token and hidden state matches the reference engine"
    return ""


def verdict(report: Report) -> str:
    if report.partial:
        return f"partial: {', '.join(report.partial)} ({_partial_outcome(report)})"
    if report.strict_time and report.overtime_s:
        return f"NOT PASSED (over time by {minutes(report.overtime_s)}, --strict-time)"
    return "PASSED" if report.passed else "NOT PASSED"


def _partial_outcome(report: Report) -> str:
    if not report.passed:
        return "not every check that ran passed"
    unmeasured = [name for name, c in report.checks.items() if c.status == "unmeasured"]
    if not unmeasured:
        return "every check that ran passed"
    if len(unmeasured) == len(report.checks):
        return f"{', '.join(unmeasured)} could not be measured"
    return f"{', '.join(unmeasured)} could not be measured; every other check that ran passed"


def headline(report: Report) -> str:
    """`91.5/100 PASSED`; a partial grade has no score out of 100, only its checks."""
    if report.partial:
        return verdict(report)
    return f"{report.score:.1f}/100 {verdict(report)}"


def time_line(report: Report) -> str:
    if report.elapsed_s is None:
        return ""
    line = f"time used {minutes(report.elapsed_s)}"
    if report.limit_s:
        over = report.elapsed_s - report.limit_s
        line += f" of {minutes(report.limit_s)}"
        if over > 0:
            line += f" ({minutes(over)} over time)"
    return line
