"""`drill mock ...`: mock interviews for two people. Parse, call below, render.

This module is imported by `drill --help`, so it imports Typer alone; everything else,
the Textual console above all, is imported inside the command that needs it.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from drills.options import (
    BugOption,
    DirOption,
    ForceOption,
    KataArgument,
    NewDirOption,
    OutputOption,
    ResumeOption,
    TimedOption,
)

mock_app = typer.Typer(
    help="Mock interviews for two people: one codes, one interviews with a script.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the main app (start-up time)
)

Score = Annotated[int | None, typer.Option(min=1, max=4, show_default=False)]


class ReportFormat(StrEnum):
    markdown = "markdown"
    html = "html"


@mock_app.command("start")
def start(
    kata: KataArgument,
    directory: NewDirOption = None,
    timed: TimedOption = None,
    force: ForceOption = False,
    resume: ResumeOption = False,
    bug: BugOption = None,
) -> None:
    """Candidate: a workspace like `drill start`, recorded for the interviewer; hints come from them."""
    from drills import actions
    from drills.mock import interview, render, watch
    from drills.workspace import Mode
    from grader.errors import BadInput

    started = actions.start(
        kata, directory, timed, force=force, resume=resume, mode=Mode.MOCK, bug=bug
    )
    if started.session.mode is not Mode.MOCK:
        raise BadInput(
            f"{started.workspace.root} holds a practice session: start the mock interview "
            "in another folder, or pass --force to move this one aside"
        )
    interview.begin(started.workspace, started.session, resumed=started.resumed)
    watch.ensure_running(started.workspace.root)
    render.started(started, interview.open_mock(started.workspace.root).kata.headline())


@mock_app.command("interviewer")
def interviewer(
    directory: DirOption = Path("."),
    printout: Annotated[
        bool,
        typer.Option("--print", help="Print the same content as plain text and exit."),
    ] = False,
) -> None:
    """Interviewer: the full-screen console (prompt, answers, phases, hints, rubric, live results)."""
    from drills.mock.interview import open_mock
    from grader.errors import BadInput

    mock = open_mock(directory)
    if printout:
        from drills.mock.printout import printout as text

        sys.stdout.write(text(mock))
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInput("the interviewer console needs a terminal: use --print for plain text")
    from drills.mock.console import run_console

    run_console(mock)


@mock_app.command("hint")
def hint(
    directory: DirOption = Path("."),
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Reveal it without asking (scripts)."),
    ] = False,
) -> None:
    """Interviewer: reveal the next hint to the candidate; it costs them points: you are asked first."""
    from drills.console import console
    from drills.mock import interview, render
    from grader.errors import BadInput

    mock = interview.open_mock(directory)
    index = interview.next_hint(mock)
    number, total, cost = index + 1, len(mock.script.hints), mock.kata.hint_cost
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput(
                f"hint {number} of {total} costs the candidate {cost:g} points: "
                "pass --yes to reveal it"
            )
        if not typer.confirm(
            f"Hint {number} of {total} costs the candidate {cost:g} points. Reveal it?"
        ):
            console.print("No hint revealed; nothing was spent.")
            return
    index, text = interview.reveal_next_hint(mock, index)
    render.hint_revealed(index, total, text)


@mock_app.command("score")
def score(
    directory: DirOption = Path("."),
    correctness: Score = None,
    code_quality: Score = None,
    complexity: Score = None,
    testing: Score = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A note for the report.", show_default=False)
    ] = None,
) -> None:
    """Interviewer: score the rubric 1-4 per dimension (asked in turn when no option is given)."""
    from drills.console import console, err_console
    from drills.mock import interview, render, scoring
    from grader.errors import BadInput

    mock = interview.open_mock(directory)
    given = {
        "correctness": correctness,
        "code_quality": code_quality,
        "complexity": complexity,
        "testing": testing,
    }
    if any(v is not None for v in given.values()) or note:
        scoring.record(mock, given, note)
    elif sys.stdin.isatty():
        try:
            scoring.interactive(mock, console.input, render.dimension)
        except KeyboardInterrupt:
            err_console.print("\ninterrupted: every score given so far is saved", style="yellow")
            raise typer.Exit(130) from None
    else:
        raise BadInput(
            "no terminal to ask in: give the scores as options, "
            "e.g. --correctness 3 --code-quality 2 --complexity 3 --testing 2"
        )
    render.scorecard(mock)


@mock_app.command("report")
def report(
    directory: DirOption = Path("."),
    fmt: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format", "-f", help="markdown or html (default: from --output, else markdown)."
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """The feedback report: auto-grade, rubric, hints, runs over time, notes, what to practise."""
    from drills.console import err_console, shown
    from drills.mock import interview
    from drills.mock import report as mock_report
    from drills.workspace import write_output

    if output is not None:
        fmt = _format_of(output, fmt)
    text = mock_report.render(
        mock_report.build(interview.open_mock(directory)), (fmt or ReportFormat.markdown).value
    )
    if output is None:
        sys.stdout.write(text)
        return
    write_output(output, text)
    err_console.print(f"Wrote {shown(output)}.", style="dim")


# What each suffix of --output is written as; a file with none takes --format's.
SUFFIXES = {
    ".md": ReportFormat.markdown,
    ".markdown": ReportFormat.markdown,
    ".html": ReportFormat.html,
    ".htm": ReportFormat.html,
}


def _format_of(output: Path, fmt: ReportFormat | None) -> ReportFormat:
    """The format to write `output` in: its suffix's, which --format may not contradict."""
    from grader.errors import BadInput
    from grader.wording import printable

    suffix = output.suffix.lower()
    if not suffix:
        return fmt or ReportFormat.markdown
    by_suffix = SUFFIXES.get(suffix)
    if by_suffix is None:
        raise BadInput(
            f"--output {printable(output.name)}: the report is written as markdown (.md) "
            "or HTML (.html, .htm)"
        )
    if fmt is not None and fmt is not by_suffix:
        raise BadInput(
            f"--output {printable(output.name)} is a {by_suffix.value} file, "
            f"but --format says {fmt.value}"
        )
    return by_suffix


@mock_app.command("replay")
def replay(
    directory: DirOption = Path("."),
    every: Annotated[
        bool, typer.Option("--all", help="Print every step at once instead of paging.")
    ] = False,
) -> None:
    """Step through solution.py's snapshots as diffs with their times (Enter; p or q, then Enter)."""
    from drills.console import console
    from drills.mock import interview, render
    from drills.mock.replay import frames

    mock = interview.open_mock(directory)
    steps = frames(mock.root, mock.state().moments)
    if not steps:
        console.print("No snapshots yet.")
        return
    if every or not (sys.stdin.isatty() and sys.stdout.isatty()):
        for f in steps:
            render.frame(f, len(steps))
        return
    i = 0
    while 0 <= i < len(steps):
        render.frame(steps[i], len(steps))
        # Line input, so each answer ends with Enter; the prompt says so.
        answer = console.input("[dim]Enter: next · p Enter: previous · q Enter: quit[/] ")
        answer = answer.strip().lower()
        if answer == "q":
            return
        i = max(i - 1, 0) if answer == "p" else i + 1
