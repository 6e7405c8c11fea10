"""The interviewer console, driven headless with Textual's pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Markdown, Static, TabbedContent

from drills.mock import interview
from drills.mock.console import ConfirmHint, InterviewerConsole, ScoreRubric
from drills.mock.interview import Mock
from drills.workspace import Workspace
from tests.mock.helpers import events, session_json


def text_of(app: InterviewerConsole, widget_id: str) -> str:
    return str(app.query_one(f"#{widget_id}", Static).content)


Scenario = Callable[[InterviewerConsole, Pilot[None]], Awaitable[None]]


def drive(mock: Mock, scenario: Scenario) -> None:
    """Run the console headless (pytest-asyncio is not needed: one event loop per test)."""

    async def main() -> None:
        app = InterviewerConsole(mock)
        async with app.run_test(size=(120, 40)) as pilot:
            await scenario(app, pilot)

    asyncio.run(main())


def test_the_console_shows_the_script_and_the_clock(mock: Mock) -> None:
    async def scenario(app: InterviewerConsole, pilot: Pilot[None]) -> None:
        await pilot.pause()
        assert "top_k_indices" in app.query_one(Markdown).source
        clarify = text_of(app, "clarify-text")
        assert "Q1. What order do equal values come in?\n    Index order." in clarify
        assert "used of 20m00s" in text_of(app, "clock")
        assert text_of(app, "phases").startswith("> clarify  0-4m")  # 10m planned, 20m given
        assert "1. [not given] Think about what to sort by." in text_of(app, "hints-text")
        assert "2  misses ties" in text_of(app, "rubric-text")
        assert "no test run yet" in text_of(app, "candidate")
        assert "Returning values instead of indices." in text_of(app, "mistakes-text")
        await pilot.press("4")
        assert app.query_one(TabbedContent).active == "follow-ups"
        bindings = {
            b.key: b.description for b in InterviewerConsole.BINDINGS if isinstance(b, Binding)
        }
        assert bindings["h"] == "Hint" and bindings["s"] == "Score"

    drive(mock, scenario)


def test_revealing_a_hint_asks_first_then_writes_it_to_the_session(mock: Mock) -> None:
    async def scenario(app: InterviewerConsole, pilot: Pilot[None]) -> None:
        await pilot.press("h")
        assert isinstance(app.screen, ConfirmHint)
        await pilot.press("n")  # changed their mind
        assert events(mock.root, "hint") == []
        await pilot.press("h", "y")
        await pilot.pause()
        (hint,) = events(mock.root, "hint")
        assert hint.by == "interviewer" and hint.data["index"] == 0
        assert [h["index"] for h in session_json(mock.root)["hints"]] == [0]
        assert "1. [given at " in text_of(app, "hints-text")
        assert app.query_one(TabbedContent).active == "hints"

    drive(mock, scenario)


def test_the_candidates_runs_appear_as_they_arrive(mock: Mock) -> None:
    async def scenario(app: InterviewerConsole, pilot: Pilot[None]) -> None:
        await pilot.pause()
        ws = Workspace(mock.root)
        interview.on_test(ws, ws.load(), passed=0, failed=1, ok=False)  # the other process
        await pilot.pause(1.5)  # one poll of the timeline
        assert "0 passed, 1 failed" in text_of(app, "candidate")
        assert "no passing `drill test` run yet" in text_of(app, "candidate")
        interview.on_test(ws, ws.load(), passed=1, failed=0, ok=True)
        await pilot.pause(1.5)
        assert "first passing test at" in text_of(app, "candidate")

    drive(mock, scenario)


def test_scoring_phases_follow_ups_and_notes_from_the_keyboard(mock: Mock) -> None:
    async def scenario(app: InterviewerConsole, pilot: Pilot[None]) -> None:
        await pilot.press("s")
        assert isinstance(app.screen, ScoreRubric)
        await pilot.press("3", "tab", "4", "2")  # correctness 3, skip code quality, ...
        await pilot.pause()
        assert not isinstance(app.screen, ScoreRubric)  # closed after the last dimension
        scores = [(e.data["dimension"], e.data["value"]) for e in events(mock.root, "score")]
        assert scores == [("correctness", 3), ("complexity", 4), ("testing", 2)]
        assert "total 9/16" in text_of(app, "scores")

        await pilot.press("n")
        assert [e.data["index"] for e in events(mock.root, "phase")] == [1]
        assert text_of(app, "phases").splitlines()[1].startswith("> code")

        await pilot.press("f", "f")
        assert [e.data["index"] for e in events(mock.root, "follow_up")] == [0, 1]
        assert "2. [asked at " in text_of(app, "follow-ups-text")

        await pilot.press("o", *"good questions", "enter")
        await pilot.pause()
        (note,) = events(mock.root, "note")
        assert note.data["text"] == "good questions"
        assert "good questions" in text_of(app, "notes")

        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running

    drive(mock, scenario)


def test_refusals_are_notices_not_crashes(mock: Mock) -> None:
    async def scenario(app: InterviewerConsole, pilot: Pilot[None]) -> None:
        for _ in range(3):
            await pilot.press("n")  # two moves reach the last phase; the third is refused
        await pilot.press("h", "y", "h", "y", "h", "y", "h")  # a fourth hint does not exist
        await pilot.pause()
        assert app.is_running
        assert [e.data["index"] for e in events(mock.root, "phase")] == [1, 2]
        assert len(events(mock.root, "hint")) == 3
        assert "Every hint has been given." in text_of(app, "hints-text")

    drive(mock, scenario)
