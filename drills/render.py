"""How the commands show their results. Data in, text out; no logic beyond layout."""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills.console import console, err_console, shown
from grader.wording import minutes

if TYPE_CHECKING:
    from rich.table import Table

    from drills.actions import Benched, GradeOutcome, HintTaken, NextUp, PlanView, Progress
    from drills.batch import BatchResult
    from drills.history import Row
    from drills.plan import Item
    from drills.review import Review
    from drills.stats import KataStats, TopicStats
    from drills.workspace import Session, Started, Workspace
    from grader.bench import BenchRun
    from grader.kata import Kata
    from grader.report import Report
    from grader.validate import Finding


# `drill list`'s groups: the kata format, and what the group asks of the candidate
LIST_GROUPS = (
    ("write", "Write it from scratch"),
    ("bug-hunt", "Find and fix the planted bug (`drill start bug-hunt` picks a family)"),
    ("speedup", "Make it fast without changing one output"),
)


def _listing(title: str) -> Table:
    """A table of one line per item: a rule under the header, no borders, so that a
    line fits an 80-column terminal."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
        show_edge=False, pad_edge=False,
    )  # fmt: skip


def _left_on_the_line(*fixed: int, columns: int) -> int:
    """What a `_listing` of `columns` columns leaves on a line beside the `fixed` widths:
    each column is padded by one on each side but at the edges, one separator between two."""
    return console.width - sum(fixed) - 3 * columns + 3


def _verdict(passed: bool) -> str:
    return "[green]passed[/]" if passed else "[red]not passed[/]"


def katas_table(katas: list[Kata]) -> None:
    """One line per kata, grouped by format, easiest first; topics where there is room."""
    wide = console.width >= 120
    table = _listing("drill katas")
    longest = max((len(k.id) for k in katas), default=2)
    room = _left_on_the_line(longest, len("difficulty"), len("min"), columns=5 if wide else 4)
    title = room * 3 // 5 if wide else room
    table.add_column("id", style="cyan", no_wrap=True, min_width=longest)
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=title)
    if wide:
        table.add_column("topics", style="dim", no_wrap=True, max_width=room - title)
    table.add_column("difficulty", justify="center", no_wrap=True)
    table.add_column("min", justify="right", no_wrap=True)
    for fmt, heading in LIST_GROUPS:
        group = sorted(
            (k for k in katas if k.format == fmt), key=lambda k: (k.difficulty, k.minutes, k.id)
        )
        if not group:
            continue
        if table.row_count:
            table.add_section()
        table.add_row("", f"[bold]{heading}[/]")
        for k in group:
            row = (
                [k.id, shown(k.title), shown(", ".join(k.topics))]
                if wide
                else [k.id, shown(k.title)]
            )
            table.add_row(*row, "●" * k.difficulty + "○" * (5 - k.difficulty), str(k.minutes))
    console.print(table)
    console.print("Start one with [bold]drill start ID --timed 30m[/].", style="dim")


def hunts(katas: list[Kata]) -> None:
    """`drill show bug-hunt`: what the alias stands for."""
    console.print(
        "[bold]bug-hunt[/] stands for the bug hunts: a working file with one planted bug, "
        "drawn from those you have not been given; `drill start bug-hunt` picks the family "
        "with the most left to see, `drill show FAMILY` prints one's prompt."
    )
    width = max((len(k.id) for k in katas), default=0)
    for k in katas:
        console.print(f"  [cyan]{k.id:<{width}}[/]  {shown(k.title)} ({k.minutes} min)")


def katas_json(katas: list[Kata]) -> None:
    rows = [
        {
            "id": k.id,
            "title": k.title,
            "summary": k.summary,
            "topics": list(k.topics),
            "difficulty": k.difficulty,
            "minutes": k.minutes,
        }
        for k in katas
    ]
    sys.stdout.write(json.dumps(rows, indent=2) + "\n")


def prompt(kata: Kata) -> None:
    from rich.markdown import Markdown  # markdown-it is slow to import: only `drill show` pays

    console.print(Markdown(kata.prompt_path.read_text(encoding="utf-8")))


def _clock(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")


def started(s: Started) -> None:
    from grader.kata import load_kata

    kata = load_kata(s.session.kata)
    root = s.workspace.root
    if s.backup:
        err_console.print(
            f"Moved the old {shown(root)} aside to {shown(s.backup)}.", style="yellow"
        )
    if s.archived:
        console.print(f"Kept the previous attempt in {shown(s.archived)}.")
    verb = "Resumed" if s.resumed else "Started again" if s.archived else "Started"
    console.print(f"[bold green]{verb}[/] [bold]{kata.id}[/]: {shown(kata.headline())}")
    if kata.is_bug_hunt and not s.resumed:
        console.print(
            "solution.py works but for one planted bug; the "
            "user's report of it ends PROMPT.md. Fix it with the smallest change."
        )
        if s.repeat:
            console.print(s.repeat, style="dim", markup=False)
    console.print(
        f"Workspace {shown(root)}: edit [bold]solution.py[/], read PROMPT.md. "
        f"Time limit {minutes(s.session.limit_s)}, deadline {_clock(s.session.deadline())} "
        f"({minutes(max(0.0, s.session.left_s()))} left)."
    )
    console.print(
        f"Next: [bold]cd {shown(root)}[/], then [bold]drill test[/], [bold]drill hint[/], "
        "[bold]drill grade[/].",
        style="dim",
    )


def status(ws: Workspace, session: Session, kata: Kata) -> None:
    from rich.table import Table

    from drills.workspace import Mode

    left = session.left_s()
    clock = f"{minutes(session.elapsed_s())} used, " + (
        f"{minutes(left)} left" if left >= 0 else f"[red]{minutes(-left)} over time[/]"
    )
    table = Table.grid(padding=(0, 2))
    table.add_row("kata", f"[bold]{kata.id}[/] — {shown(kata.title)}")
    if session.mode is Mode.MOCK:
        table.add_row("mode", "mock interview: hints come from your interviewer")
    table.add_row("workspace", shown(ws.root))
    table.add_row("time", f"{clock} (limit {minutes(session.limit_s)})")
    cost = kata.hint_cost * len(session.hints)
    table.add_row("hints", f"{len(session.hints)} taken" + (f" (-{cost:g} points)" if cost else ""))
    if session.gave_up_at:
        given_up = datetime.fromisoformat(session.gave_up_at)
        table.add_row("gave up", f"at {_clock(given_up)} (`drill review` showed the model answer)")
    if session.last_test:
        t = session.last_test
        table.add_row(
            "last test", f"{t['passed']} passed, {t['failed']} failed at {minutes(t['elapsed_s'])}"
        )
    if session.last_grade:
        g = session.last_grade
        table.add_row(
            "last grade", f"{shown(g['score'])}/100, {_verdict(g['passed'])} ({shown(g['at'])})"
        )
    console.print(table)
    if session.hints:
        from drills.actions import hints_of

        texts = hints_of(kata, session.variant)
        for h in session.hints:
            console.print(
                f"  hint {h.index + 1} at {minutes(h.elapsed_s)}: {shown(texts[h.index])}",
                style="dim",
            )


def new_hints(hints: list[tuple[int, str]]) -> None:
    """Hints a mock interviewer revealed since the candidate last looked."""
    for number, text in hints:
        console.print(f"[bold yellow]Hint {number} from your interviewer:[/] {shown(text)}")


def hint(h: HintTaken) -> None:
    console.print(f"[bold]Hint {h.number}/{h.total}[/] [dim](-{h.cost:g} points)[/]")
    console.print(h.text, markup=False)


def report(r: Report, fmt: str, output: Path | None) -> None:
    from drills.workspace import write_output
    from grader.render import render_text

    if fmt == "rich":
        from grader.render.terminal import print_report

        if output is not None:
            from rich.console import Console

            written = io.StringIO()
            print_report(r, Console(file=written, width=100))
            write_output(output, written.getvalue())
        print_report(r, console)
        return
    text = render_text(r, fmt)
    if output is not None:
        write_output(output, text)
    else:
        sys.stdout.write(text)


def next_up(up: NextUp, every: bool, fmt: str) -> None:
    from rich.table import Table

    store_moved_aside(up.moved_aside)
    topic, why = up.estimate
    if fmt == "json":
        data = {
            "katas": [r.to_json() for r in up.katas],
            "estimate": {"topic": topic, "reason": why},
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    first = up.katas[0]
    console.print(f"Next: [bold cyan]{first.kata}[/] ({shown(first.reason)})")
    console.print(f"  drill start {first.kata}", style="dim")
    console.print(f"Estimation: [bold cyan]{topic}[/] ({shown(why)})")
    console.print(f"  drill estimate {topic}", style="dim")
    rest = up.katas[1:] if every else up.katas[1:3]
    if not rest:
        return
    table = Table(title="then" if not every else "every kata, in order", title_justify="left")
    table.add_column("kata", style="cyan", no_wrap=True)
    table.add_column("due")
    table.add_column("why")
    for r in rest:
        due = "new" if r.due is None else _clock_or_day(r.due)
        table.add_row(r.kata, due, shown(r.reason))
    console.print(table)


def _left_out(items: list[Item]) -> str:
    """What a plan could not fit, by kind: the first tries and the mocks by name, the
    re-dos and estimation drills counted."""

    def katas(kind: str) -> list[str]:
        return list(dict.fromkeys(i.kata for i in items if i.kind == kind))

    def count(n: int, what: str) -> str:
        return f"{n} {what}{'s' if n > 1 else ''}"

    parts = []
    if learn := katas("learn"):
        parts.append(f"the first try of {_and(learn)}")
    if mock := katas("mock"):
        parts.append(
            f"{'a mock interview' if len(mock) == 1 else 'mock interviews'} of {_and(mock)}"
        )
    if redos := [i for i in items if i.kind == "again"]:
        parts.append(f"{count(len(redos), 're-do')} of {count(len(katas('again')), 'kata')}")
    if drills := sum(i.kind == "estimate" for i in items):
        parts.append(count(drills, "estimation drill"))
    return "; ".join(parts)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _clock_or_day(at: datetime) -> str:
    local = at.astimezone()
    return "now" if at <= datetime.now(at.tzinfo) else local.strftime("%a %d %b")


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(scores: list[float]) -> str:
    """Scores 0 to 100 as one block each, oldest first."""
    top = len(SPARKS) - 1
    return "".join(SPARKS[round(max(0.0, min(s, 100.0)) / 100 * top)] for s in scores)


def stats(progress: Progress, fmt: str) -> None:
    per_kata, per_topic = progress.katas, progress.topics
    store_moved_aside(progress.moved_aside)
    if fmt == "json":
        data = {
            "katas": [k.to_json() for k in per_kata],
            "topics": [t.to_json() for t in per_topic],
            "estimates": [e.to_json() for e in progress.estimates],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    if not per_kata:
        console.print("No grades yet: `drill next` says where to start.")
    else:
        kata_tables(per_kata, per_topic)
    if progress.estimates:
        estimates_table(progress)


def kata_tables(per_kata: list[KataStats], per_topic: list[TopicStats]) -> None:
    from rich.table import Table

    katas = Table(title="per kata", title_justify="left", header_style="bold")
    for name, justify in (("kata", "left"), ("attempts", "right"), ("passes", "right"),
                          ("best", "right"), ("last", "right"), ("scores", "left"),
                          ("fastest pass", "right")):  # fmt: skip
        katas.add_column(name, justify=justify)  # type: ignore[arg-type]
    for k in per_kata:
        fastest = k.fastest_pass_min
        pace = "-" if fastest is None else f"{fastest:.0f} of {k.minutes} min"
        katas.add_row(k.kata, str(len(k.attempts)), str(k.passes), f"{k.best:.1f}",
                      f"{k.last:.1f}", sparkline(k.scores), pace)  # fmt: skip
    console.print(katas)
    topics = Table(title="per topic", title_justify="left", header_style="bold")
    for name in ("topic", "katas", "attempts", "passes", "mean last score"):
        topics.add_column(name, justify="left" if name == "topic" else "right")
    for t in per_topic:
        mean = "-" if t.mean_last is None else f"{t.mean_last:5.1f} {_bar(t.mean_last)}"
        topics.add_row(t.topic, str(t.katas), str(t.attempts), str(t.passes), mean)
    console.print(topics)


def estimates_table(progress: Progress) -> None:
    from rich.table import Table

    table = Table(title="estimation, per topic", title_justify="left", header_style="bold")
    for name in ("topic", "answered", "mean", "recent"):
        table.add_column(name, justify="left" if name == "topic" else "right")
    for e in progress.estimates:
        table.add_row(e.topic, str(e.answered), f"{e.mean:.0%}", f"{e.recent:.0%}")
    console.print(table)


def _bar(score: float, width: int = 20) -> str:
    return "█" * round(max(0.0, min(score, 100.0)) / 100 * width)


def review(r: Review) -> None:
    from rich.rule import Rule
    from rich.syntax import Syntax

    def section(title: str) -> None:
        console.print(Rule(title, align="left", style="dim"))

    console.print(f"[bold]Review of {r.kata.id}[/]: {shown(r.kata.headline())}")
    if r.gave_up:
        console.print("You gave up on this attempt; it is recorded in the session.", style="dim")
    if r.failures:
        section("What the last grade failed on")
        for check, reason in r.failures:
            console.print(f"[bold]{check}[/]: {shown(reason or 'did not pass')}", highlight=False)
    if r.bug is not None:
        section("The planted bug")
        console.print(f"[bold]{shown(r.bug.name)}[/]: {shown(r.bug.bug)}", highlight=False)
        said = shown(r.diagnosis) if r.diagnosis else "[dim]none written in diagnosis.txt[/]"
        console.print(f"Your diagnosis: {said}", highlight=False)
        console.print(f"Why it is subtle: {shown(r.bug.subtle)}", highlight=False)
        console.print("The planted change (- correct, + planted):")
        _diff(r.bug.patch)
    section("From your solution.py to the model answer")
    if r.diff:
        _diff(r.diff)
    else:
        console.print("Your solution.py is the model answer, line for line.")
    for name, source in r.reference:
        section(f"The reference stack: {name}")
        console.print(
            Syntax(source, "python", theme="ansi_dark", background_color="default", word_wrap=True)
        )
    section("Common mistakes")
    for mistake in r.common_mistakes:
        console.print(f"- {mistake}", highlight=False, markup=False)
    section("Follow-up questions an interviewer asks next")
    for question in r.follow_ups:
        console.print(f"- {question}", highlight=False, markup=False)


def _diff(text: str) -> None:
    """A diff is never wrapped: a wrapped line loses its +/- and the diff no longer
    applies. On a terminal, soft wrap (the terminal folds long lines, the text keeps
    them whole); elsewhere (a file, a pipe) the lines as they are, control characters
    written out."""
    from rich.syntax import Syntax

    from grader.wording import printable

    text = printable(text if text.endswith("\n") else text + "\n")
    if not console.is_terminal:
        console.file.write(text)
        return
    console.print(
        Syntax(text, "diff", theme="ansi_dark", background_color="default"), soft_wrap=True
    )


def plan(view: PlanView | None, every: bool, fmt: str) -> None:
    from datetime import timedelta

    from rich.table import Table

    if view is None:
        if fmt == "json":
            sys.stdout.write("null\n")
        else:
            console.print("No plan yet: `drill plan --days 14` (or --weeks 3) lays one out.")
        return
    p = view.plan
    if fmt == "json":
        data = {
            **p.to_json(),
            "today": view.today,
            "done": sorted(view.done),
            "minutes_to_fit": view.fits_at,
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    if view.replaced:
        err_console.print("Replaced the earlier plan.", style="yellow")
    end = p.start + timedelta(days=p.days - 1)
    console.print(
        f"[bold]Plan[/] {p.start:%a %d %b} to {end:%a %d %b} ({p.days} days, up to "
        f"{p.minutes_per_day} min a day): {len(view.done)} of {len(p.items)} items done"
    )
    if p.left_out:
        room = (
            "more --days or --minutes make room"
            if view.fits_at is None
            else f"--minutes {view.fits_at} fits every first try and mock interview"
        )
        console.print(
            f"Did not fit: {_left_out(p.left_out)} ({room}; --format json lists each).",
            style="dim",
        )
    if view.today >= p.days:
        console.print(f"The plan ended on {end:%a %d %b}; `drill plan --days N` makes a new one.")
    listed = [
        (n, item)
        for n, item in enumerate(p.items)
        if every or item.day == view.today or (item.day < view.today and n not in view.done)
    ]
    if not listed:
        console.print("Nothing planned for today.", style="dim")
        return
    table = Table(header_style="bold", title_justify="left")
    for name in ("day", "", "do", "min"):
        table.add_column(name, justify="right" if name == "min" else "left")
    for n, item in listed:
        day = p.start + timedelta(days=item.day)
        mark = "[green]✓[/]" if n in view.done else "·"
        when = "today" if item.day == view.today else f"{day:%a %d %b}"
        style = (
            "bold"
            if item.day == view.today
            else ("red" if item.day < view.today and n not in view.done else "")
        )
        table.add_row(when, mark, item.label(), str(item.minutes), style=style)
    console.print(table)


def benched(b: Benched) -> None:
    from grader.wording import duration

    r = b.run
    console.print(
        f"[bold]{r.kata}[/] on {r.device}: yours {duration(r.candidate.median_s)}, the "
        f"reference {duration(r.reference.median_s)} per call (medians of "
        f"{r.candidate.rounds} and {r.reference.rounds} rounds): [bold]{r.ratio:.2f}x[/] "
        "the reference's time"
    )
    console.print(
        f"Kept in {shown(b.saved)}. The grade's speed check measures differently (interleaved "
        "rounds, a busy machine disturbs it less): compare runs with each other.",
        style="dim",
    )
    if b.earlier:
        bench_runs([*b.earlier, (b.attempt, r)], len(b.earlier))


def bench_runs(runs: list[tuple[str, BenchRun]], newest: int | None) -> None:
    """Every run kept in the workspace, oldest first; `newest`: the index of the run just made."""
    from rich.table import Table

    from grader.wording import duration

    if not runs:
        console.print("No runs kept yet: `drill bench` makes one.")
        return
    best = min(range(len(runs)), key=lambda i: runs[i][1].ratio)
    table = Table(header_style="bold", title="runs in this workspace", title_justify="left")
    for name in ("#", "attempt", "when", "device", "yours", "reference", "ratio"):
        table.add_column(
            name, justify="right" if name in ("#", "yours", "reference", "ratio") else "left"
        )
    for i, (attempt, r) in enumerate(runs):
        when = datetime.fromisoformat(r.at).astimezone().strftime("%d %b %H:%M")
        mark = " best" if i == best else ""
        style = "bold" if i == newest else ""
        table.add_row(str(i + 1), attempt, when, r.device, duration(r.candidate.median_s),
                      duration(r.reference.median_s), f"{r.ratio:.2f}x{mark}", style=style)  # fmt: skip
    console.print(table)


def store_moved_aside(aside: Path | None) -> None:
    if aside is not None:
        err_console.print(
            f"The history store was unreadable; it was moved aside to {shown(aside)} and a new one "
            "started.",
            style="yellow",
        )


def export(
    grades: list[dict[str, Any]], fmt: str, output: Path | None, moved_aside: Path | None
) -> None:
    from drills.history import to_csv
    from drills.workspace import write_output

    store_moved_aside(moved_aside)
    text = to_csv(grades) if fmt == "csv" else json.dumps(grades, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    write_output(output, text)
    err_console.print(f"Wrote {len(grades)} grade(s) to {shown(output)}.")


def ci_outputs(outcome: GradeOutcome) -> None:
    """In GitHub Actions: the markdown report in the step summary, failures as annotations."""
    import os

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        from grader.render.markdown import to_markdown

        with open(summary, "a", encoding="utf-8") as f:
            f.write(to_markdown(outcome.report) + "\n")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from grader.render.annotations import workflow_commands

        solution = os.path.relpath(outcome.workspace.solution, Path.cwd())
        for line in workflow_commands(outcome.report, solution):
            sys.stdout.write(line + "\n")


def batch_progress(result: BatchResult) -> None:
    if result.skipped:
        err_console.print(
            f"skipped {shown(result.workspace)}: {shown(result.skipped)}", style="yellow"
        )
        return
    from grader.render.common import headline

    verdict = "error" if result.report is None else headline(result.report)
    err_console.print(f"graded {shown(result.workspace)}: {verdict}", style="dim")


def batch(results: list[BatchResult], fmt: str, output: Path | None, root: Path) -> None:
    """One line per workspace, named within `root` (the title names `root` itself)."""
    from rich.text import Text

    from drills.workspace import write_output
    from grader.render.common import headline

    lines = "".join(json.dumps(r.to_json()) + "\n" for r in results)
    if output is not None:
        write_output(output, lines)
    if fmt == "json":
        sys.stdout.write(lines)
        return
    count = f"{len(results)} workspace" + ("" if len(results) == 1 else "s")
    table = _listing(f"drill batch: {count} in {shown(root)}")

    def _short(path: Path) -> str:
        return os.path.relpath(path, root)

    graded = [r.report for r in results if r.report is not None]
    widths = [
        max([len("workspace"), *(len(_short(r.workspace)) for r in results)]),
        max([len("kata"), *(len(g.kata) for g in graded)]),
        # a full grade's "100.0/100 NOT PASSED" on one line; a partial one's may wrap
        min(max([len("grade"), *(len(headline(g)) for g in graded)]), len("100.0/100 NOT PASSED")),
    ]
    for name, width in zip(("workspace", "kata", "grade"), widths, strict=True):
        table.add_column(name, no_wrap=name != "grade", min_width=width, max_width=width)
    # The note takes what is left of the line, wrapped (`--format json` has it on one).
    note = max(10, _left_on_the_line(*widths, columns=len(widths) + 1))
    table.add_column("note", overflow="fold", max_width=note)
    for r in results:
        if r.skipped:
            table.add_row(shown(_short(r.workspace)), "-", "[yellow]skipped[/]", shown(r.skipped))
            continue
        if r.report is None:
            table.add_row(shown(_short(r.workspace)), "-", "[red]error[/]", shown(r.error))
            continue
        table.add_row(
            shown(_short(r.workspace)),
            r.report.kata,
            Text(headline(r.report), style="green" if r.report.passed else "red"),
            shown(_first_problem(r.report)),
        )
    console.print(table)


def _first_problem(report: Report) -> str:
    """The first check that did not pass, and why (a batch's one-line note)."""
    from grader.checks import TITLES

    for name, check in report.checks.items():
        if check.status not in ("pass", "skip"):
            return f"{TITLES.get(name, name)}: {check.reason or check.status}"
    return ""


def grade_notes(outcome: GradeOutcome) -> None:
    if outcome.report.partial:
        err_console.print(
            "A partial grade (--only): not kept in `drill history` and not the session's last grade.",
            style="dim",
        )
    store_moved_aside(outcome.history_moved_aside)
    if outcome.not_kept:
        err_console.print(
            f"This grade is not in `drill history`: the history store could not be written "
            f"({outcome.not_kept}). Grade again to keep it.",
            style="yellow",
        )


def finding(f: Finding) -> None:
    from rich.text import Text

    mark = Text("✓", style="green") if f.ok else Text("✗", style="bold red")
    console.print(
        mark,
        Text(f"{f.kata}: {f.item}", style="bold" if not f.ok else ""),
        Text(f"— {f.detail}", style="dim"),
    )


def history(rows: list[Row], fmt: str, moved_aside: Path | None, kata: str | None = None) -> None:
    store_moved_aside(moved_aside)
    if fmt == "json":
        sys.stdout.write(json.dumps([r.__dict__ for r in rows], indent=2) + "\n")
        return
    if not rows and kata is not None:
        console.print(f"No grades of {kata} yet: `drill start {kata}`, then `drill grade`.")
        return
    if not rows:
        console.print("No grades yet: `drill start KATA`, then `drill grade`.")
        return
    table = _listing("drill history")
    wide = console.width >= 100  # room for the attempt's id
    columns = ("date", "kata", "score", "time used", "hints", "attempt")
    for col in columns if wide else columns[:-1]:
        right = col in ("score", "hints")
        table.add_column(col, justify="right" if right else "left", no_wrap=col != "time used")
    this_year = datetime.now().year
    for r in rows:
        at = datetime.fromisoformat(r.graded_at).astimezone()
        when = at.strftime("%d %b %H:%M" if at.year == this_year else "%d %b %Y")
        used = minutes(r.elapsed_s) + (f" / {minutes(r.limit_s)}" if r.limit_s else "")
        if r.limit_s and r.elapsed_s is not None and r.elapsed_s > r.limit_s:
            used += f" [yellow]({minutes(r.elapsed_s - r.limit_s)} over)[/]"
        table.add_row(
            when,
            r.kata,
            f"{r.score:.1f} {_verdict(r.passed)}",
            used,
            str(r.hints),
            *([r.attempt[:8]] if wide else []),  # shortened as git does; json has it whole
        )
    console.print(table)
