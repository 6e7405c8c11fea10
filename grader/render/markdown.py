"""The report as GitHub-flavoured markdown (a CI step summary, a PR comment)."""

from __future__ import annotations

import re

from grader.checks import TITLES
from grader.render.common import headline, summary, time_line
from grader.report import Report

ICONS = {"pass": "✅", "fail": "❌", "error": "💥", "skip": "⏭️", "unmeasured": "❔"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _quoted(text: str, in_table: bool = False) -> str:
    """A reason, which may quote the solution, as a code span: literal text that makes
    no link, image, mention, HTML or closing tag in a pull request. The fence is longer
    than any run of backticks inside; a table cell's pipes are escaped (GFM's rule)."""
    if not text:
        return ""
    text = text.replace("\n", " ")
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def to_markdown(report: Report) -> str:
    lines = [
        f"### drill · {report.kata}: {headline(report)}",
        "",
        f"Pass mark {report.pass_mark:g}; hints taken {report.hints_taken}"
        + (f" (-{report.hint_penalty:g} points)" if report.hint_penalty else "")
        + (f"; {time_line(report)}" if time_line(report) else "")
        + f"; device {report.device}.",
        "",
        "| check | status | score | result |",
        "|---|---|---|---|",
    ]
    for name, check in report.checks.items():
        result = (
            _quoted(check.reason, in_table=True)
            if check.status != "pass"
            else _cell(summary(check))
        )
        lines.append(
            f"| {TITLES.get(name, name)} | {ICONS.get(check.status, '')} {check.status} "
            f"| {check.score:.1f}/{check.max:g} | {result} |"
        )
    failed = [t for t in report.tests if t.outcome not in ("passed", "skipped")]
    if failed:
        lines += ["", "<details><summary>Failing hidden tests</summary>", ""]
        lines += [
            f"- `{t.id.rsplit('::', 1)[-1]}` ({t.outcome}): {_quoted(t.reason)}" for t in failed
        ]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
