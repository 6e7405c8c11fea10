"""How the `drill mock` commands show their results (Rich). Data in, text out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from drills.console import console, err_console, shown
from drills.mock import views
from grader.wording import minutes

if TYPE_CHECKING:
    from drills.mock.interview import Mock
    from drills.mock.replay import Frame
    from drills.workspace import Started


def lines(rows: list[views.Line]) -> None:
    for text, style in rows:
        console.print(Text(text, style=style or ""))


def started(s: Started, title: str) -> None:
    root = s.workspace.root
    if s.backup:
        err_console.print(
            f"Moved the old {shown(root)} aside to {shown(s.backup)}.", style="yellow"
        )
    verb = "Resumed" if s.resumed else "Started"
    console.print(f"[bold green]{verb}[/] mock interview [bold]{s.session.kata}[/]: {shown(title)}")
    console.print(
        f"Workspace {shown(root)}: edit [bold]solution.py[/], read PROMPT.md. "
        f"Time limit {minutes(s.session.limit_s)} ({minutes(max(0.0, s.session.left_s()))} left)."
    )
    console.print(
        f"Candidate: [bold]cd {shown(root)}[/], then [bold]drill test[/] and [bold]drill grade[/]; "
        "hints come from your interviewer.",
        style="dim",
    )
    console.print(
        f"Interviewer: [bold]drill mock interviewer --dir {shown(root)}[/] "
        "(or [bold]--print[/] for plain text).",
        style="dim",
    )


def hint_revealed(index: int, total: int, text: str) -> None:
    console.print(f"[bold]Revealed hint {index + 1}/{total}[/] to the candidate:")
    console.print(text, markup=False, highlight=False)  # the script's words, uncoloured


def scorecard(mock: Mock) -> None:
    state = mock.state()
    console.print("[bold]Rubric[/]")
    for d in mock.script.rubric:
        s = state.scores.get(d.key)
        mark = Text(f"{d.title}: ", style="bold")
        mark.append(f"{s.value}/4, {d.anchors[s.value]}" if s else "not scored", style="")
        console.print(mark)
    lines(views.scores(mock.script, state)[1:])
    if state.notes:
        console.print("[bold]Notes[/]")
        lines(views.notes(state))


def dimension(title: str, anchors: dict[int, str], current: int | None) -> None:
    console.print()
    console.print(f"[bold]{title}[/]" + (f" [dim](now {current}/4)[/]" if current else ""))
    for n, text in anchors.items():
        console.print(Text(f"  {n}  {text}", style="green" if n == current else ""))


def frame(f: Frame, total: int) -> None:
    console.rule(Text(f"frame {f.number}/{total} at {minutes(f.t)}", style="bold"), align="left")
    for m in f.moments:
        console.print(Text(f"  {minutes(m.t):>6}  {m.what}", style="cyan"))
    if f.number == 1:
        console.print(Text(f"(solution.py as it began, {f.lines} lines)", style="dim"))
    for line in f.diff:
        line = line.rstrip("\n")
        style = (
            "bold"
            if line.startswith(("---", "+++"))
            else "green"
            if line.startswith("+")
            else "red"
            if line.startswith("-")
            else "cyan"
            if line.startswith("@@")
            else ""
        )
        console.print(Text(line, style=style), soft_wrap=True)
