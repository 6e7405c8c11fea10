"""The session, driven with scripted lines and a fake clock: grades, retries on bad input,
the ways it ends."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from rich.console import Console

from drills.estimate import session
from drills.estimate.session import Ending, Outcome, Result
from drills.estimate.topics import session_questions
from drills.estimate.units import Kind, format_value

SEED = 11
make = session_questions("kv-cache", SEED)


def right(i: int) -> str:
    q = make(i)
    return format_value(q.kind, q.expected)


def scripted(lines: list[str | BaseException]) -> Callable[[str], str]:
    feed: Iterator[str | BaseException] = iter(lines)

    def ask(prompt: str) -> str:
        item = next(feed, EOFError())
        if isinstance(item, BaseException):
            raise item
        return item

    return ask


class Clock:
    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def play(
    lines: list[str | BaseException], planned: int | None = 3, **kw: float
) -> tuple[Outcome, list[Result], str]:
    recorded: list[Result] = []
    out = Console(file=io.StringIO(), width=200)
    outcome = session.run(
        make,
        planned,
        scripted(lines),
        out,
        clock=Clock(kw.pop("step", 1.0)),
        limit_s=kw.pop("limit_s", None),
        record=recorded.append,
    )
    session.summary(out, outcome, None)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    return outcome, recorded, text


def test_right_half_and_wrong_answers_are_graded_and_explained() -> None:
    half = format_value(make(1).kind, make(1).expected * 1.8)
    outcome, recorded, text = play([right(0), half, "1 B"])
    assert [r.score for r in outcome.results] == [1.0, 0.5, 0.0]
    assert recorded == outcome.results  # each answer is recorded as it is graded
    assert outcome.ending is Ending.FINISHED
    assert "Full marks (1/1)" in text and "Half marks (0.5/1)" in text and "No marks (0/1)" in text
    assert "80% high" in text
    for i in range(3):
        assert make(i).derivation[0] in text  # the worked derivation after every answer
    assert "Score 1.5/3 (50%)" in text


def test_bad_answers_are_refused_with_a_message_and_asked_again() -> None:
    outcome, recorded, text = play(["banana", "", "12 ms", "-4 GB", right(0), "q"])
    assert "'banana' is not a number: type a size in bytes" in text
    assert "no answer given" in text
    assert "'12 ms' is a time, but this question asks for a size in bytes" in text
    assert "every answer here is a positive quantity" in text
    assert text.count("Try again") == 4
    assert [r.answer for r in recorded] == [right(0)] and recorded[0].score == 1.0
    assert outcome.ending is Ending.QUIT
    assert "Stopped after 1 of 3 questions." in text


def test_a_question_mark_shows_the_answer_for_no_marks() -> None:
    outcome, recorded, text = play(["?", right(1), right(2)])
    assert (recorded[0].answer, recorded[0].score, recorded[0].value) == (None, 0.0, None)
    assert [r.score for r in outcome.results] == [0.0, 1.0, 1.0]
    assert f"Shown (0/1): the answer is {make(0).expected_text()}." in text
    assert "(shown)" in text  # in the summary table


def test_end_of_input_and_ctrl_c_end_the_session_with_the_summary() -> None:
    outcome, recorded, text = play([right(0)])  # then the input runs out
    assert outcome.ending is Ending.END_OF_INPUT and len(recorded) == 1
    assert "Input ended after 1 of 3 questions." in text and "Score 1/1" in text
    outcome, recorded, text = play([right(0), right(1), KeyboardInterrupt()])
    assert outcome.ending is Ending.INTERRUPTED and len(recorded) == 2
    assert "Interrupted after 2 of 3 questions." in text
    outcome, recorded, text = play([KeyboardInterrupt()])
    assert outcome.results == [] and recorded == []
    # The CLI's exit line says it (`drill: interrupted; nothing was recorded`), once.
    assert "nothing was recorded" not in text and "Interrupted after" not in text
    outcome, recorded, text = play([])  # the input ends before any answer
    assert "Input ended after 0 of 3 questions." in text
    assert "No answers given; nothing was recorded." in text


def test_time_is_checked_at_each_answer() -> None:
    # each clock read advances 10 s and a question reads it four times (the deadline, the
    # time left, asked, answered): the limit of 100 s passes during the third question
    lines: list[str | BaseException] = [right(i) for i in range(10)]
    outcome, recorded, text = play(lines, planned=None, limit_s=100, step=10)
    assert outcome.ending is Ending.TIME
    assert [r.late for r in recorded] == [False, False, True]
    assert "(Given after the time limit.)" in text
    assert "left" in text  # the clock in each question's heading


def test_time_taken_is_the_time_to_a_valid_answer() -> None:
    _, recorded, _ = play(["banana", right(0)], planned=1, step=2)
    assert recorded[0].elapsed_s == pytest.approx(2.0)  # one read when asked, one when answered


def test_graded_json_reports_each_line() -> None:
    recorded: list[Result] = []
    doc = session.graded_json(
        make, [right(0), "banana", "", "?"], SEED, "kv-cache", recorded.append
    )
    assert [q["score"] for q in doc["questions"]] == [1.0, None, None, 0.0]
    assert "is not a number" in doc["questions"][1]["error"]
    assert doc["questions"][2]["answer"] is None and doc["questions"][2]["error"] is None
    assert doc["answered"] == 2 and doc["score"] == 1.0
    assert [r.number for r in recorded] == [1, 4]


def test_an_answer_read_as_bits_says_so_in_its_grade() -> None:
    q = make(0)  # a size in bytes: an answer in gigabits is an eighth of it
    assert q.kind is Kind.BYTES
    in_bits = f"{q.expected / 1e9:.6g} Gb"
    outcome, _, text = play([in_bits, "q"])
    assert outcome.results[0].score == 0.0
    assert f"{in_bits} (read as gigabits, 8 to a byte) = " in text and "8x too low" in text
    outcome, _, text = play([f"{q.expected * 8 / 1e9:.6g} Gbit", "q"])
    assert outcome.results[0].score == 1.0 and "(read as gigabits, 8 to a byte)" in text
    outcome, _, text = play([f"{q.expected / 1e9:.6g} GB", "q"])
    assert outcome.results[0].score == 1.0 and "read as" not in text
