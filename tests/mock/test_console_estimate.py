"""The interviewer's console poses a generated estimation question (key e), grades the
candidate's answer as the interviewer types it, shows the derivation and keeps a note."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, Static

from drills.estimate.units import format_value
from drills.mock.console import EstimateQuestion, InterviewerConsole
from drills.mock.interview import Mock
from tests.mock.helpers import events
from tests.mock.test_console import drive, text_of


def test_e_poses_a_question_and_grades_the_answer_typed(mock: Mock) -> None:
    async def scenario(app: InterviewerConsole, pilot: Pilot[None]) -> None:
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, EstimateQuestion)
        q = screen.question
        assert q.text in str(screen.query_one("#estimate-question", Static).content)
        await pilot.press(*"banana", "enter")  # refused: asked again, nothing saved
        result = str(screen.query_one("#estimate-result", Static).content)
        assert "'banana' is not a number" in result
        assert events(mock.root, "note") == []
        field = screen.query_one("#estimate-answer", Input)
        field.value = format_value(q.kind, q.expected * 1.5)
        await pilot.press("enter")
        await pilot.pause()
        result = str(screen.query_one("#estimate-result", Static).content)
        assert "Half marks (0.5/1)" in result and "50% high" in result
        assert q.derivation[-1][:40] in result  # the worked derivation, every step
        (note,) = events(mock.root, "note")
        assert note.data["text"].startswith(f"estimate {q.topic} (seed {q.seed}): answered ")
        assert note.data["text"].endswith("; half marks")
        await pilot.press("escape")
        await pilot.pause(1.5)
        assert not isinstance(app.screen, EstimateQuestion)
        assert f"estimate {q.topic}" in text_of(app, "notes")

    drive(mock, scenario)


def test_a_question_mark_shows_the_expected_answer(mock: Mock) -> None:
    async def scenario(app: InterviewerConsole, pilot: Pilot[None]) -> None:
        await pilot.press("e", "?", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EstimateQuestion)
        result = str(screen.query_one("#estimate-result", Static).content)
        assert f"Shown (0/1): the answer is {screen.question.expected_text()}." in result
        (note,) = events(mock.root, "note")
        assert "not answered" in note.data["text"] and note.data["text"].endswith("no marks")

    drive(mock, scenario)
