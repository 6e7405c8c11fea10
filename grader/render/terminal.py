"""The report for a person at a terminal, with Rich."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.checks import TITLES
from grader.render.common import headline, summary, time_line
from grader.report import Report

STYLES = {
    "pass": "green",
    "fail": "red",
    "error": "bold red",
    "skip": "yellow",
    "unmeasured": "yellow",
}
MAX_FAILURES_SHOWN = 8


def print_report(report: Report, console: Console) -> None:
    table = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("result", ratio=1)
    for name, check in report.checks.items():
        style = STYLES.get(check.status, "")
        # Text, not markup: a reason may quote the solution ("[/x]" would be a tag).
        result = Text(summary(check) if check.status == "pass" else check.reason)
        table.add_row(
            TITLES.get(name, name),
            Text(check.status, style=style),
            f"{check.score:.1f}/{check.max:g}",
            result,
        )
    parts: list[Table | Text] = [table]
    failed = [t for t in report.tests if t.outcome not in ("passed", "skipped")]
    if failed:
        lines = Text("\nFailing hidden tests:\n", style="bold")
        for t in failed[:MAX_FAILURES_SHOWN]:
            lines.append(f"  ✗ {t.id.rsplit('::', 1)[-1]}", style="red")
            lines.append(f" ({t.outcome}): {t.reason}\n" if t.reason else f" ({t.outcome})\n")
        if len(failed) > MAX_FAILURES_SHOWN:
            lines.append(
                f"  … and {len(failed) - MAX_FAILURES_SHOWN} more (`--format json` lists all)\n"
            )
        parts.append(lines)
    footer = [f"pass mark {report.pass_mark:g}", f"hints {report.hints_taken}"]
    if report.hint_penalty:
        footer[-1] += f" (-{report.hint_penalty:g})"
    if time_line(report):
        footer.append(time_line(report))
    footer.append(f"device {report.device}")
    parts.append(Text("\n" + " · ".join(footer), style="dim"))
    colour = "green" if report.passed else "red"
    title = f"[bold]{report.kata}[/] — [bold {colour}]{headline(report)}[/]"
    console.print(Panel(Group(*parts), title=title, title_align="left", border_style=colour))
