"""The report as GitHub-flavoured markdown (a CI step summary, a PR comment)."""

from __future__ import annotations

import re

from grader.checks import TITLES
from grader.render.common import headline, summary, time_line
from grader.report import Report

ICONS = {"pass": "✅", "fail": "❌", "error": "💥", "skip": "⏭️", "unmeasured": "❔"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def code_span(text: str) -> str:
    """`text`, which may quote the solution, as a code span: literal text that makes no
    link, image, mention, HTML or closing tag where markdown is shown. The fence is
    longer than any run of backticks inside (and padded where the text starts or ends
    with one); in a table cell, `_cell` escapes its pipes as GFM asks."""
    if not text:
        return ""
    text = text.replace("\n", " ")
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
        result = _cell(code_span(check.reason) if check.status != "pass" else summary(check))
        lines.append(
            f"| {TITLES.get(name, name)} | {ICONS.get(check.status, '')} {check.status} "
            f"| {check.score:.1f}/{check.max:g} | {result} |"
        )
    failed = [t for t in report.tests if t.outcome not in ("passed", "skipped")]
    if failed:
        lines += ["", "<details><summary>Failing hidden tests</summary>", ""]
        lines += [
            f"- `{t.id.rsplit('::', 1)[-1]}` ({t.outcome}): {code_span(t.reason)}" for t in failed
        ]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
