"""`drill estimate`: parse the options, run the session (or a JSON form), render.

Imported by every `drill` start (the command's options are registered then): at module
level only Typer and the topics' names; the generators, Rich and the history store load
when the command runs.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from drills.estimate.names import TOPIC_NAMES
from drills.options import TimedOption
from grader.errors import BadInput, DrillError

if TYPE_CHECKING:  # the command's own annotations are all that Typer evaluates
    from drills.estimate.session import Make
    from drills.history import History

DEFAULT_COUNT = 5
MAX_COUNT = 200


class EstimateFormat(StrEnum):
    text = "text"
    json = "json"


class SessionInterrupted(DrillError):
    """Ctrl-C in a session: the summary is printed, the answers given are kept."""

    exit_code = 130


def _topic(name: str | None) -> str | None:
    from drills.estimate.topics import TOPICS

    if name is None or name in TOPICS:
        return name
    import difflib

    close = [t for t in TOPIC_NAMES if t.startswith(name.lower())] or difflib.get_close_matches(
        name, TOPIC_NAMES, n=1
    )
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise BadInput(f"unknown topic '{name}'{hint}: one of {', '.join(TOPIC_NAMES)}")


def _count(count: int | None) -> None:
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise BadInput(f"--count {count}: between 1 and {MAX_COUNT} questions")


def _answer_lines(path: Path) -> list[str]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read --answers {path}: {exc}") from None
    lines = text.splitlines()
    if not lines:
        raise BadInput(f"--answers {path} is empty: one answer a line")
    return lines


def estimate(
    topic: Annotated[
        str | None,
        typer.Argument(
            help=f"One of: {', '.join(TOPIC_NAMES)} (default: a mix).", show_default=False
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            "-n",
            help=f"Questions to ask (default {DEFAULT_COUNT}; with --timed, until time is up).",
            show_default=False,
        ),
    ] = None,
    timed: TimedOption = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="The same seed asks the same questions.", show_default=False),
    ] = None,
    fmt: Annotated[
        EstimateFormat,
        typer.Option(
            "--format",
            "-f",
            help="text: the interactive session; json: no prompts, the questions with their "
            "answers and derivations (graded against --answers if given).",
        ),
    ] = EstimateFormat.text,
    answers: Annotated[
        Path | None,
        typer.Option(
            "--answers",
            help="With --format json: grade these answers, one a line ('-' reads stdin).",
            show_default=False,
        ),
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Past estimates by topic, and the latest answers.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", help="With --history: the latest answers shown.")
    ] = 20,
    topics: Annotated[
        bool, typer.Option("--topics", help="The topics and what each asks.")
    ] = False,
) -> None:
    """Back-of-the-envelope drills: numeric questions from real model and GPU specs, graded."""
    name = _topic(topic)
    _count(count)
    if topics:
        _list_topics(fmt)
        return
    if history:
        if count is not None or timed or seed is not None or answers is not None:
            raise BadInput("--history takes a TOPIC, --limit and --format, nothing else")
        _history(name, limit, fmt)
        return
    import random

    from drills.estimate.topics import session_questions

    seed = random.SystemRandom().randrange(1, 1_000_000) if seed is None else seed
    make = session_questions(name, seed)
    if fmt is EstimateFormat.json:
        if timed:
            raise BadInput("--timed is for the interactive session, not --format json")
        _json(make, count, seed, name, answers)
        return
    if answers is not None:
        raise BadInput(
            "--answers goes with --format json; in a session type the answers (or pipe them in)"
        )
    limit_s = None
    if timed:
        from drills.duration import parse_duration

        limit_s = float(parse_duration(timed))
    planned = count if count is not None else (None if limit_s else DEFAULT_COUNT)
    _session(make, planned, limit_s, seed, name)


def _list_topics(fmt: EstimateFormat) -> None:
    from drills.estimate.topics import TOPICS

    if fmt is EstimateFormat.json:
        sys.stdout.write(json.dumps({t.name: t.asks for t in TOPICS.values()}, indent=2) + "\n")
        return
    from drills.console import console

    width = max(len(n) for n in TOPIC_NAMES)
    for t in TOPICS.values():
        console.print(f"{t.name:<{width}}  {t.asks}", markup=False, highlight=False)


def _store() -> History:
    from drills.history import History
    from drills.render import store_moved_aside

    store = History()
    store.open()  # a store this release cannot read is refused now, not mid-session
    store_moved_aside(store.moved_aside)
    return store


def _history(name: str | None, limit: int, fmt: EstimateFormat) -> None:
    from drills.console import console
    from drills.estimate.session import history_view, topic_stats

    rows = _store().estimates(name)
    stats = topic_stats(rows)
    latest = rows[: max(limit, 0)]
    if fmt is EstimateFormat.json:
        doc = {
            "topics": [s.to_json() for s in stats],
            "answers": [r.__dict__ for r in latest],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    history_view(console, stats, latest)


def _json(make: Make, count: int | None, seed: int, name: str | None, answers: Path | None) -> None:
    from drills.estimate.session import Result, graded_json, key_json

    if answers is None:
        doc = key_json(make, count or DEFAULT_COUNT, seed, name)
    else:
        lines = _answer_lines(answers)
        if count is not None and len(lines) > count:
            raise BadInput(f"--answers has {len(lines)} lines for {count} questions")
        lines += [""] * ((count or len(lines)) - len(lines))
        store = _store()
        session_id = _session_id()

        def record(r: Result) -> None:
            store.record_estimate(r.row(session_id))

        doc = graded_json(make, lines, seed, name, record)
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def _session_id() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


def _session(
    make: Make, planned: int | None, limit_s: float | None, seed: int, name: str | None
) -> None:
    import time

    from drills.console import console
    from drills.estimate import session

    store = _store()
    session_id = _session_id()
    interactive = sys.stdin.isatty()

    def ask(prompt: str) -> str:
        console.print(prompt, end="", markup=False, highlight=False)
        sys.stdout.flush()
        line = input()
        if not interactive:  # piped answers: show them, so the transcript reads as a dialogue
            console.print(line, markup=False, highlight=False)
        return line

    def record(r: session.Result) -> None:
        store.record_estimate(r.row(session_id))

    what = f"{planned} questions" if planned else "questions until time is up"
    on = f"on {name}" if name else "on mixed topics"
    console.print(
        f"drill estimate: {what} {on} (seed {seed}; --seed {seed} asks them again). "
        f"{session.bands()} GB = 1e9 bytes, GiB = 2^30 bytes, Gb = 1e9 bits.",
        markup=False,
        highlight=False,
    )
    outcome = session.run(
        make, planned, ask, console, clock=time.monotonic, limit_s=limit_s, record=record
    )
    session.summary(console, outcome, limit_s)
    if outcome.ending is session.Ending.INTERRUPTED:
        n = len(outcome.results)
        kept = {0: "nothing was recorded", 1: "the answer given is saved"}.get(
            n, f"the {n} answers given are saved"
        )
        raise SessionInterrupted(f"interrupted; {kept}")
