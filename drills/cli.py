"""The `drill` command. Each command parses its options, calls one function below, renders.

Heavy modules (torch, mypy, memray, the grader's stages) are imported inside the
commands that need them, so `drill --help` and `drill list` start in a blink.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from drills import render
from drills.console import console, err_console, shown
from drills.options import (
    BugOption,
    DirOption,
    ForceOption,
    HtmlOption,
    KataArgument,
    NewDirOption,
    OutputOption,
    ResumeOption,
    TimedOption,
)
from grader.errors import BadInput
from grader.render import Format

app = typer.Typer(
    name="drill",
    help="Practise the systems-coding rounds of LLM-infrastructure interviews.",
    no_args_is_help=True,
    add_completion=True,  # drill --install-completion: bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    # Plain help: typer's Rich help imports rich.markdown and markdown-it, start-up time
    # that every `drill --help` would pay.
    rich_markup_mode=None,
)


class ListFormat(StrEnum):
    table = "table"
    json = "json"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@app.callback()
def main_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for internal errors.")
    ] = False,
) -> None:
    """drill: a kata is a timed interview question with a hidden, demanding grader."""


@app.command("list")
def list_katas(
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json")
    ] = ListFormat.table,
) -> None:
    """Every kata with its id, title, topics, difficulty and minutes."""
    from grader.kata import all_katas

    katas = all_katas()
    if fmt is ListFormat.json:
        render.katas_json(katas)
    else:
        render.katas_table(katas)


@app.command()
def show(kata: Annotated[str, typer.Argument(help="Kata id, e.g. sampling.")]) -> None:
    """The kata's prompt, rendered (bug-hunt: the bug hunts, one line each)."""
    from drills.hunt import ALIAS, families
    from grader.kata import load_kata

    if kata == ALIAS:
        render.hunts(families())
        return
    render.prompt(load_kata(kata))


@app.command()
def start(
    kata: KataArgument,
    directory: NewDirOption = None,
    timed: TimedOption = None,
    force: ForceOption = False,
    resume: ResumeOption = False,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Archive this workspace's attempt under .drill/attempts/ and start afresh.",
        ),
    ] = False,
    bug: BugOption = None,
) -> None:
    """Create a workspace with solution.py, test_visible.py and PROMPT.md, and start the clock.

    A bug hunt's solution.py is a working file with one planted bug this candidate has not
    been given before; PROMPT.md ends with the user's report of it."""
    from drills import actions
    from drills.workspace import Mode

    started = actions.start(
        kata, directory, timed, force=force, resume=resume, again=again, mode=Mode.PRACTICE, bug=bug
    )
    render.started(started)


@app.command()
def status(directory: DirOption = Path(".")) -> None:
    """Kata, time used and left, hints taken, last grade."""
    from drills import actions

    render.status(*actions.status(directory))


@app.command()
def test(
    directory: DirOption = Path("."),
    profile: Annotated[
        bool,
        typer.Option("--profile", help="Run them under cProfile and show where the time went."),
    ] = False,
) -> None:
    """Run the workspace's visible tests (fast; the hidden suite runs in `drill grade`)."""
    from drills import actions

    result = actions.run_tests(directory, profile=profile)
    render.new_hints(actions.new_hints(directory))
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def watch(directory: DirOption = Path(".")) -> None:
    """Re-run the visible tests on every save, with the clock and hints; keys h hint, g grade, q quit."""
    from drills.watch import watch as run_watch

    run_watch(directory)


@app.command()
def hint(
    directory: DirOption = Path("."),
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Spend the points without asking (scripts).")
    ] = False,
) -> None:
    """Reveal the next hint. It is recorded and costs points: you are asked first."""
    from drills import actions

    number, total, cost = actions.next_hint(directory)
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput(f"hint {number} of {total} costs {cost:g} points: pass --yes to take it")
        if not typer.confirm(f"Hint {number} of {total} costs {cost:g} points. Reveal it?"):
            console.print("No hint taken; nothing was spent.")
            return
    render.hint(actions.take_hint(directory))


@app.command()
def grade(
    directory: DirOption = Path("."),
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="rich for a terminal, json for scripts, junit for CI test reports, markdown for a pull request",
        ),
    ] = Format.rich,
    output: OutputOption = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Some of the kata's checks, comma-separated: tests, types, memory, speed,"
            " integration, diff.",
        ),
    ] = None,
    device: Annotated[Device, typer.Option("--device", help="auto, cpu or cuda.")] = Device.auto,
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="Also fail below this score (a CI gate).")
    ] = None,
    strict_time: Annotated[
        bool, typer.Option("--strict-time", help="A grade past the time limit does not pass.")
    ] = False,
    kata: Annotated[
        str | None,
        typer.Option("--kata", "-k", help="Grade a folder without a session as this kata."),
    ] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="Grade every workspace under this folder.")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-j", help="Workspaces graded at once with --batch.")
    ] = 2,
) -> None:
    """Grade solution.py: hidden tests, mypy --strict, peak memory and speed against the reference."""
    from drills import actions

    checks = None if only is None else {c.strip() for c in only.split(",") if c.strip()}
    if batch is not None:
        if fmt not in (Format.rich, Format.json):
            raise BadInput(f"--batch writes a table (rich) or json, not {fmt.value}")
        results = actions.grade_batch(
            batch,
            workers=workers,
            device=device.value,
            only=checks,
            on_result=render.batch_progress,
            kata=kata,
            strict_time=strict_time,
        )
        render.batch(results, fmt.value, output, batch)
        raise typer.Exit(0 if all(actions.gate(r.report, min_score) for r in results) else 1)
    busy = err_console.status("grading…", spinner="dots") if fmt is Format.rich else nullcontext()
    with busy:
        outcome = actions.grade(
            directory, device=device.value, only=checks, kata_id=kata, strict_time=strict_time
        )
    render.report(outcome.report, fmt.value, output)
    render.ci_outputs(outcome)
    render.grade_notes(outcome)
    raise typer.Exit(0 if actions.gate(outcome.report, min_score) else 1)


@app.command()
def validate(
    kata: Annotated[
        str | None, typer.Argument(help="Kata id (bug-hunt: every family), or --all.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every kata.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Structure only; skip grading.")] = False,
) -> None:
    """Check a kata: well-formed, model answer scores 100, starter fails, every mutant caught."""
    from drills import actions

    findings = actions.validate(kata, every=every, quick=quick, on_finding=render.finding)
    raise typer.Exit(0 if all(f.ok for f in findings) else 1)


@app.command()
def history(
    kata: Annotated[str | None, typer.Option("--kata", "-k", help="Only this kata.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many rows.")
    ] = 20,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json")
    ] = ListFormat.table,
) -> None:
    """Past grades: kata, date, score, time used, hints."""
    from drills.history import History
    from drills.hunt import ALIAS, families

    store = History()
    # bug-hunt: every family's grades, as `drill start bug-hunt` draws from them all
    rows = store.rows([k.id for k in families()] if kata == ALIAS else kata, limit)
    if kata is not None and kata != ALIAS and not rows:
        from grader.kata import load_kata

        load_kata(kata)  # an unknown id is bad input, with the closest one named
    render.history(rows, fmt.value, store.moved_aside, kata)


@app.command()
def review(
    directory: DirOption = Path("."),
    give_up: Annotated[
        bool,
        typer.Option("--give-up", help="See the model answer before a grade (recorded)."),
    ] = False,
) -> None:
    """After a grade: your solution against the model answer, the reference, what to know."""
    from drills import actions

    render.review(actions.review(directory, give_up=give_up))


@app.command()
def bench(
    directory: DirOption = Path("."),
    compare: Annotated[
        bool, typer.Option("--compare", help="Only list the runs kept, across attempts.")
    ] = False,
    device: Annotated[Device, typer.Option("--device", help="auto, cpu or cuda.")] = Device.auto,
) -> None:
    """Time your solution against the reference on the kata's speed case (pytest-benchmark)."""
    from drills import actions
    from drills.workspace import find_workspace

    if compare:
        render.bench_runs(actions.bench_runs(find_workspace(directory)), None)
        return
    with err_console.status("benchmarking…", spinner="dots"):
        done = actions.bench(directory, device=device.value)
    render.benched(done)


@app.command("next")
def next_(
    every: Annotated[bool, typer.Option("--all", "-a", help="Every kata, in order.")] = False,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json")
    ] = ListFormat.table,
) -> None:
    """Which kata to practise now and why: spaced repetition over your grades."""
    from drills import actions

    render.next_up(actions.next_up(), every, fmt.value)


@app.command()
def stats(
    html: HtmlOption = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json")
    ] = ListFormat.table,
) -> None:
    """Progress per kata and per topic: attempts, best and last score, time to a pass."""
    from drills import actions

    progress = actions.stats()
    render.stats(progress, fmt.value)
    if html is not None and not progress.katas:
        err_console.print(f"Nothing to plot yet: {shown(html)} was not written.")
    elif html is not None:
        from drills.stats_html import page
        from drills.workspace import write_output

        write_output(html, page(progress.katas, progress.topics))
        err_console.print(f"Wrote the plots to {shown(html)}.")


@app.command()
def plan(
    days: Annotated[
        int | None, typer.Option("--days", min=1, max=365, help="Lay out a new plan of N days.")
    ] = None,
    weeks: Annotated[
        int | None, typer.Option("--weeks", min=1, max=52, help="The same, in weeks.")
    ] = None,
    minutes: Annotated[
        int, typer.Option("--minutes", min=10, help="Practice time a day, in minutes.")
    ] = 90,
    every: Annotated[bool, typer.Option("--all", "-a", help="Every day, not only today.")] = False,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json")
    ] = ListFormat.table,
) -> None:
    """A study plan across katas and mock interviews, ticked off from your grades."""
    from drills import actions

    if days is not None and weeks is not None:
        raise BadInput("--days and --weeks say the same thing: give one")
    length = days if weeks is None else weeks * 7
    view = actions.plan(length, minutes)
    render.plan(view, every or length is not None, fmt.value)


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


@app.command()
def export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv (one line per grade) or json")
    ] = ExportFormat.csv,
    output: OutputOption = None,
) -> None:
    """The whole history, every grade with its checks, for a spreadsheet or a script."""
    from drills.history import History

    store = History()
    render.export(store.export(), fmt.value, output, store.moved_aside)


ci_app = typer.Typer(
    help="Grading in continuous integration.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(ci_app, name="ci")


@ci_app.command("init")
def ci_init(
    path: Annotated[Path, typer.Option("--path", help="Where to write the workflow.")] = Path(
        ".github/workflows/drill.yml"
    ),
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Where the workflow installs drill from: git+https://...@TAG or a wheel's "
            "https URL (default: this clone's origin at its current commit).",
        ),
    ] = None,
    torch: Annotated[
        str | None,
        typer.Option("--torch", help="The torch version to pin (default: the one installed)."),
    ] = None,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Score a pull request must reach.")
    ] = 80.0,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing workflow.")] = False,
    strict_time: Annotated[
        bool, typer.Option("--strict-time", help="Grades past a session's time limit fail.")
    ] = False,
) -> None:
    """Write a GitHub Actions workflow that grades the workspaces a pull request changes."""
    from drills import ci

    written = ci.init(
        path, source=source, min_score=min_score, force=force, torch=torch, strict_time=strict_time
    )
    console.print(f"Wrote {shown(written)}. Commit it on your default branch; see docs/ci.md.")


# `drill mock ...`: mock interviews for two people (drills/mock). The sub-app's module
# imports only Typer; the Textual console loads when `drill mock interviewer` runs.
from drills.mock.cli import mock_app  # noqa: E402

app.add_typer(mock_app, name="mock")

# `drill estimate`: back-of-the-envelope drills (drills/estimate). Its module imports Typer
# and the topic table (standard library only); the session loads when the command runs.
from drills.estimate.cli import estimate  # noqa: E402

app.command("estimate")(estimate)


__all__ = ["app", "console"]
