"""The estimation session: ask, read an answer, grade it, show the derivation; repeat.

The session takes its input and clock as functions, so tests drive it with a list of
lines and a fake clock. Every graded answer is handed to `record` at once (the CLI
writes it to the history store), so ending the session any way keeps what was answered.

Also the two non-interactive forms behind `--format json`: the answer key of a session,
and the grades of a file of answers.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from drills.estimate import grading
from drills.estimate.grading import FULL_MARKS_WITHIN, HALF_MARKS_FACTOR
from drills.estimate.topics import Question
from drills.estimate.units import (
    BARE,
    BITS_PER_BYTE,
    EXAMPLES,
    NOUN,
    AnswerError,
    parse,
    read,
    show,
)
from drills.history import EstimateRow
from grader.wording import minutes

REVEAL = "?"
QUIT = ("q", "quit")

Ask = Callable[[str], str]  # prints the prompt, returns a line; EOFError at the end
Make = Callable[[int], Question]  # question i of the session, from 0
Record = Callable[["Result"], None]


@dataclass(frozen=True)
class Result:
    number: int  # from 1
    question: Question
    answer: str | None  # as typed; None: the answer was shown instead
    value: float | None  # the answer in the base unit of the question's kind
    score: float
    elapsed_s: float
    late: bool = False  # given after the time limit

    def row(self, session: str) -> EstimateRow:
        return EstimateRow(
            session=session,
            topic=self.question.topic,
            seed=self.question.seed,
            params=dict(self.question.params),
            kind=self.question.kind.value,
            answer=self.answer,
            value=self.value,
            expected=self.question.expected,
            expected_text=self.question.expected_text(),
            score=self.score,
            elapsed_s=round(self.elapsed_s, 2),
            answered_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )


class Ending(StrEnum):
    FINISHED = "finished"
    TIME = "time"
    QUIT = "quit"
    END_OF_INPUT = "end of input"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Outcome:
    results: list[Result]
    ending: Ending
    planned: int | None  # questions the session was to ask; None: until time ran out
    elapsed_s: float


class _Quit(Exception):
    pass


def bands() -> str:
    return (
        f"Full marks within {FULL_MARKS_WITHIN:.0%} of the answer, half marks within "
        f"{HALF_MARKS_FACTOR:g}x."
    )


def answer_help(q: Question) -> str:
    return (
        f"Answer with {NOUN[q.kind]}, e.g. {EXAMPLES[q.kind]} (a bare number is "
        f"{BARE[q.kind]}). {REVEAL} shows the answer, q stops."
    )


def read_answer(q: Question, ask: Ask, out: Console) -> tuple[str | None, float | None]:
    """Ask until the line parses, is `?` (the answer shown), or `q` (raises _Quit)."""
    while True:
        text = ask("> ").strip()
        if text == REVEAL:
            return None, None
        if text.lower() in QUIT:
            raise _Quit
        try:
            return text, parse(text, q.kind)
        except AnswerError as exc:
            out.print(Text(f"  {exc}. Try again ({REVEAL} shows the answer).", style="yellow"))


def show_question(out: Console, number: int, planned: int | None, q: Question, left: str) -> None:
    head = f"Question {number}" + (f" of {planned}" if planned else "") + f" · {q.topic}"
    if left:
        head += f" · {left} left"
    out.print()
    out.print(Text(head, style="bold"))
    out.print(Text(q.text))
    out.print(Text(answer_help(q), style="dim"))


def verdict_line(q: Question, answer: str | None, value: float | None, score: float) -> str:
    """`Half marks (0.5/1): 200 kB = ... is 53% high; the answer is 131,072 B (128 KiB).`
    An answer read as bits says so: `172 Gb (read as gigabits, 8 to a byte) = 21.5 GB`."""
    expected = q.expected_text()
    if value is None:
        return f"Shown (0/1): the answer is {expected}."
    mine = show(q.kind, value, percent=q.percent)
    typed = answer
    if answer is not None and (bits := _bits(answer, q)):
        typed = f"{answer} (read as {bits}, {BITS_PER_BYTE} to a byte)"
    return (
        f"{grading.verdict(score).capitalize()} ({score:g}/1): {typed} = {mine} is "
        f"{grading.how_far(value, q.expected)}; the answer is {expected}."
    )


def _bits(answer: str, q: Question) -> str:
    """The bit unit `answer` was read in (`gigabits`), or empty."""
    try:
        return read(answer, q.kind)[1]
    except AnswerError:  # a verdict is only ever given for an answer that was read
        return ""


def show_result(out: Console, r: Result) -> None:
    style = {1.0: "bold green", 0.5: "bold yellow"}.get(r.score, "bold red")
    line = Text(verdict_line(r.question, r.answer, r.value, r.score))
    line.stylize(style, 0, line.plain.index(":"))
    if r.late:
        line.append(" (Given after the time limit.)", style="yellow")
    out.print(line)
    out.print(Text("How it is worked out:", style="dim"))
    for step in r.question.derivation:
        out.print(Text(f"  · {step}"))


def run(
    make: Make,
    planned: int | None,
    ask: Ask,
    out: Console,
    *,
    clock: Callable[[], float],
    limit_s: float | None = None,
    record: Record = lambda r: None,
) -> Outcome:
    """Ask `planned` questions (or until `limit_s` runs out); grade, record, explain each."""
    start = clock()
    deadline = None if limit_s is None else start + limit_s
    results: list[Result] = []
    ending = Ending.FINISHED
    try:
        while planned is None or len(results) < planned:
            if deadline is not None and clock() >= deadline:
                ending = Ending.TIME
                break
            q = make(len(results))
            left = "" if deadline is None else minutes(deadline - clock())
            show_question(out, len(results) + 1, planned, q, left)
            asked = clock()
            answer, value = read_answer(q, ask, out)
            now = clock()
            score = 0.0 if value is None else grading.score(value, q.expected)
            late = deadline is not None and now > deadline
            result = Result(len(results) + 1, q, answer, value, score, now - asked, late)
            record(result)
            results.append(result)
            show_result(out, result)
            if late:
                ending = Ending.TIME
                break
    except _Quit:
        ending = Ending.QUIT
    except EOFError:
        ending = Ending.END_OF_INPUT
    except KeyboardInterrupt:
        ending = Ending.INTERRUPTED
    return Outcome(results, ending, planned, clock() - start)


def summary(out: Console, outcome: Outcome, limit_s: float | None) -> None:
    """How the session ended, and the table of its answers. Interrupted before any answer,
    it prints nothing more: the CLI's exit line (`drill: interrupted; nothing was
    recorded`) says it all, once."""
    results = outcome.results
    out.print()  # off the prompt's line
    if not results and outcome.ending is Ending.INTERRUPTED:
        return
    n = len(results)
    if outcome.ending is Ending.TIME:
        out.print(Text(f"Time is up ({minutes(limit_s)}).", style="bold"))
    elif outcome.ending is not Ending.FINISHED:
        said = {
            Ending.QUIT: "Stopped",
            Ending.END_OF_INPUT: "Input ended",
            Ending.INTERRUPTED: "Interrupted",
        }[outcome.ending]
        of = f" of {outcome.planned}" if outcome.planned else ""
        plural = "s" if (outcome.planned or n) != 1 else ""
        out.print(Text(f"{said} after {n}{of} question{plural}.", style="bold"))
    if not results:
        out.print("No answers given; nothing was recorded.")
        return
    table = Table(title="drill estimate", title_justify="left", header_style="bold")
    for col in ("#", "topic", "your answer", "expected", "marks", "time"):
        table.add_column(col, justify="right" if col in ("#", "marks", "time") else "left")
    for r in results:
        table.add_row(
            str(r.number),
            r.question.topic,
            Text(r.answer if r.answer is not None else "(shown)"),
            r.question.expected_text(),
            f"{r.score:g}",
            minutes(r.elapsed_s),
        )
    out.print(table)
    total = sum(r.score for r in results)
    out.print(
        Text(
            f"Score {total:g}/{n} ({total / n:.0%}) in {minutes(outcome.elapsed_s)}. "
            "Saved to your history: drill estimate --history.",
            style="bold",
        )
    )


# --- --format json ---------------------------------------------------------------------------


def key_json(make: Make, count: int, seed: int, topic: str | None) -> dict[str, Any]:
    """The questions of a session with their answers and derivations, nothing graded."""
    return {
        "seed": seed,
        "topic": topic,
        "questions": [{"n": i + 1, **make(i).to_json()} for i in range(count)],
    }


def graded_json(
    make: Make,
    lines: Iterable[str],
    seed: int,
    topic: str | None,
    record: Record = lambda r: None,
) -> dict[str, Any]:
    """Grade one line per question: `?` shows the answer (0 marks), an empty line leaves the
    question unanswered, a line that does not parse is reported with its message."""
    questions: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        q = make(i)
        text = line.strip()
        entry: dict[str, Any] = {"n": i + 1, **q.to_json()}
        entry.update(answer=text or None, value=None, score=None, error=None)
        if text == REVEAL:
            entry.update(answer=None, score=0.0)
            record(Result(i + 1, q, None, None, 0.0, 0.0))
        elif text:
            try:
                value = parse(text, q.kind)
            except AnswerError as exc:
                entry["error"] = str(exc)
            else:
                score = grading.score(value, q.expected)
                entry.update(value=value, score=score)
                record(Result(i + 1, q, text, value, score, 0.0))
        questions.append(entry)
    graded = [e["score"] for e in questions if e["score"] is not None]
    return {
        "seed": seed,
        "topic": topic,
        "questions": questions,
        "answered": len(graded),
        "score": sum(graded),
    }


# --- history ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicStats:
    topic: str
    answered: int
    mean: float
    recent: float  # mean of the last RECENT answers
    median_s: float
    last: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


RECENT = 10


def topic_stats(rows: list[EstimateRow]) -> list[TopicStats]:
    """Per topic, from rows newest first: answers, mean score, recent mean, median time."""
    by_topic: dict[str, list[EstimateRow]] = {}
    for r in rows:
        by_topic.setdefault(r.topic, []).append(r)
    return [
        TopicStats(
            topic=topic,
            answered=len(found),
            mean=statistics.fmean(r.score for r in found),
            recent=statistics.fmean(r.score for r in found[:RECENT]),
            median_s=statistics.median(r.elapsed_s for r in found),
            last=found[0].answered_at,
        )
        for topic, found in sorted(by_topic.items())
    ]


def history_view(out: Console, stats: list[TopicStats], recent: list[EstimateRow]) -> None:
    if not stats:
        out.print("No estimates yet: `drill estimate` starts a session.")
        return
    table = Table(title="drill estimate: by topic", title_justify="left", header_style="bold")
    for col in ("topic", "answered", "mean", f"last {RECENT}", "median time", "last answered"):
        table.add_column(col, justify="left" if col in ("topic", "last answered") else "right")
    for s in stats:
        table.add_row(
            s.topic,
            str(s.answered),
            f"{s.mean:.0%}",
            f"{s.recent:.0%}",
            minutes(s.median_s),
            _local(s.last),
        )
    out.print(table)
    answers = Table(title="latest answers", title_justify="left", header_style="bold")
    for col in ("date", "topic", "your answer", "expected", "marks", "time"):
        answers.add_column(col, justify="right" if col in ("marks", "time") else "left")
    for r in recent:
        answers.add_row(
            _local(r.answered_at),
            r.topic,
            Text(r.answer if r.answer is not None else "(shown)"),
            r.expected_text,
            f"{r.score:g}",
            minutes(r.elapsed_s),
        )
    out.print(answers)


def _local(at: str) -> str:
    return datetime.fromisoformat(at).astimezone().strftime("%Y-%m-%d %H:%M")
