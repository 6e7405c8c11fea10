"""GitHub Actions workflow commands: failures as annotations pointing into solution.py."""

from __future__ import annotations

from grader.checks import TITLES
from grader.report import Report


def _escape(text: str) -> str:
    # Workflow command data must escape %, CR and LF (the runner's own rules).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _escape(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(report: Report, solution: str) -> list[str]:
    """One `::error` line per failing hidden test and per mypy error; one per failing check."""
    out = []
    for test in report.tests:
        if test.outcome not in ("passed", "skipped"):
            where = f"file={_prop(solution)}" + (f",line={test.line}" if test.line else "")
            title = _prop(f"hidden test {test.id.rsplit('::', 1)[-1]}")
            out.append(
                f"::error {where},title={title}::{_escape(test.outcome + ': ' + test.reason)}"
            )
    types = report.checks.get("types")
    if types is not None and types.status == "fail":
        for error in types.details.get("errors_at", []):
            out.append(
                f"::error file={_prop(solution)},line={error['line']},title=mypy --strict::{_escape(str(error['message']))}"
            )
    for name, check in report.checks.items():
        if name not in ("tests", "types") and check.status in ("fail", "error"):
            title = _prop(TITLES.get(name, name))
            out.append(f"::error file={_prop(solution)},title={title}::{_escape(check.reason)}")
    return out
