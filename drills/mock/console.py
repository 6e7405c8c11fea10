"""`drill mock interviewer`: the interviewer's full-screen console (Textual).

Left, the script in tabs (keys 1 to 6): the prompt to read out, the clarifying questions
with the answers to give, the hint ladder, the follow-ups, the rubric with its anchors
and the common mistakes. Right, what changes: the clock and the phases, the candidate's
latest test and grade, the scores and the notes. The timeline is re-read once a second,
so the candidate's runs appear as they happen. Every key is in the footer.

Only the keyboard and plain terminal output are used, so it runs the same over SSH and
inside tmux. Each key that records something (a hint, a phase, a follow-up, a score,
a note) has written it to the workspace before the screen changes: quitting, Ctrl-C or
a lost connection cannot take it back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Input, Markdown, Static, TabbedContent, TabPane

from drills.estimate import grading
from drills.estimate.names import TOPIC_NAMES
from drills.estimate.session import REVEAL, verdict_line
from drills.estimate.topics import MAX_SEED, Question, generate
from drills.estimate.units import BARE, EXAMPLES, NOUN, AnswerError, parse
from drills.mock import interview, store, timeline, views
from drills.mock.interview import Mock
from drills.mock.script import Dimension
from drills.mock.state import MockState, fold
from drills.workspace import Session, now
from grader.errors import DrillError

POLL_S = 1.0
TABS = (  # short labels: all six fit beside the sidebar in an 80-column terminal
    ("prompt", "1 Prompt"),
    ("clarify", "2 Q&A"),
    ("hints", "3 Hints"),
    ("follow-ups", "4 Follow"),
    ("rubric", "5 Rubric"),
    ("mistakes", "6 Traps"),
)


def as_text(lines: list[views.Line]) -> Text:
    text = Text()
    for i, (line, style) in enumerate(lines):
        if i:
            text.append("\n")
        text.append(line, style=style or None)
    return text


class ConfirmHint(ModalScreen[bool]):
    """Revealing a hint costs the candidate points: one more key to be sure."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Reveal it"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, number: int, total: int, text: str, cost: float) -> None:
        super().__init__()
        self.message = (
            f"Reveal hint {number}/{total} to the candidate? It shows in their "
            f"`drill test` and `drill status`, and costs {cost:g} points.\n\n{text}\n\n"
            "y reveals it, n or Esc cancels."
        )

    def compose(self) -> ComposeResult:
        yield Static(self.message, id="dialog", markup=False)
        yield Footer()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ScoreRubric(ModalScreen[None]):
    """Score each rubric dimension 1 to 4 in turn; each key is written at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "score(1)", "Score", key_display="1-4"),
        Binding("2", "score(2)", show=False),
        Binding("3", "score(3)", show=False),
        Binding("4", "score(4)", show=False),
        Binding("tab,down", "skip", "Skip"),
        Binding("escape", "close", "Done"),
    ]

    def __init__(self, mock: Mock, state: MockState) -> None:
        super().__init__()
        self.mock = mock
        self.state = state
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Static(id="dialog")
        yield Footer()

    def on_mount(self) -> None:
        self._show()

    @property
    def dimension(self) -> Dimension:
        return self.mock.script.rubric[self.index]

    def _show(self) -> None:
        d = self.dimension
        current = self.state.scores.get(d.key)
        lines: list[views.Line] = [
            (f"Score {self.index + 1}/{len(self.mock.script.rubric)}: {d.title}", "bold"),
            (f"now: {current.value}/4" if current else "not scored yet", "dim"),
            ("", ""),
        ]
        lines += [(f"{n}  {text}", "") for n, text in d.anchors.items()]
        lines += [("", ""), ("1-4 scores it, Tab skips, Esc stops.", "dim")]
        self.query_one("#dialog", Static).update(as_text(lines))

    def action_score(self, value: int) -> None:
        interview.score(self.mock, self.dimension.key, value)
        self.app.notify(f"{self.dimension.title}: {value}/4")
        self.action_skip()

    def action_skip(self) -> None:
        if self.index + 1 >= len(self.mock.script.rubric):
            self.dismiss(None)
            return
        self.index += 1
        self.state = self.mock.state()
        self._show()

    def action_close(self) -> None:
        self.dismiss(None)


class NoteInput(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("A note for the report (Enter saves it, Esc cancels):")
            yield Input(placeholder="e.g. asked about ties before coding", id="note")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EstimateQuestion(ModalScreen[None]):
    """A generated back-of-the-envelope question to read out (`drill estimate`'s topics).

    The interviewer types what the candidate answered (or `?`); the grade and the worked
    derivation appear, and the result is saved as a note for the report.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, mock: Mock, question: Question) -> None:
        super().__init__()
        self.mock = mock
        self.question = question

    def compose(self) -> ComposeResult:
        q = self.question
        with VerticalScroll(id="dialog"):  # a derivation can be longer than the screen
            yield Static(
                as_text(
                    [
                        (f"Estimation question ({q.topic}, seed {q.seed}): read it out", "bold"),
                        (q.text, ""),
                        (
                            f"They answer with {NOUN[q.kind]}, e.g. {EXAMPLES[q.kind]} (a bare "
                            f"number is {BARE[q.kind]}).",
                            "dim",
                        ),
                    ]
                ),
                id="estimate-question",
            )
            yield Input(
                placeholder=f"their answer, then Enter ({REVEAL} shows the expected one)",
                id="estimate-answer",
            )
            yield Static(id="estimate-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#estimate-answer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        q, text = self.question, event.value.strip()
        result = self.query_one("#estimate-result", Static)
        value: float | None = None
        if text != REVEAL:
            try:
                value = parse(text, q.kind)
            except AnswerError as exc:
                result.update(Text(f"{exc}.", style="yellow"))
                return
        score = 0.0 if value is None else grading.score(value, q.expected)
        answer = None if value is None else text
        verdict = verdict_line(q, answer, value, score)
        lines: list[views.Line] = [(verdict, "bold"), ("", ""), ("How it is worked out:", "dim")]
        lines += [(f"  · {step}", "") for step in q.derivation]
        lines += [("", ""), ("Esc closes; e asks another.", "dim")]
        result.update(as_text(lines))
        event.input.disabled = True
        said = f"answered {text}" if answer else "not answered"
        try:
            interview.note(
                self.mock,
                f"estimate {q.topic} (seed {q.seed}): {said}; expected {q.expected_text()}; "
                f"{grading.verdict(score)}",
            )
        except DrillError as exc:
            self.app.notify(str(exc), title="estimate", severity="warning")

    def action_close(self) -> None:
        self.dismiss(None)


class InterviewerConsole(App[None]):
    TITLE = "drill mock interviewer"
    ENABLE_COMMAND_PALETTE = False  # every action has its key; ^p would only take room
    CSS = """
    #main { height: 1fr; }
    #script { width: 2fr; }
    #side { width: 1fr; min-width: 30; max-width: 56; border-left: solid $primary; padding: 0 1; }
    TabbedContent Tab { padding: 0 0 0 1; }
    .box-title { text-style: bold; color: $accent; margin-top: 1; }
    TabPane { padding: 0 1; }
    #dialog {
        width: 80%; max-width: 100; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    ConfirmHint, ScoreRubric, NoteInput, EstimateQuestion { align: center middle; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "reveal_hint", "Hint"),
        Binding("n", "next_phase", "Next phase"),
        Binding("f", "follow_up", "Follow-up"),
        Binding("s", "score", "Score"),
        Binding("o", "note", "Note"),
        Binding("e", "estimate", "Estimate"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        *(
            Binding(str(i), f"tab('{tab}')", label, show=False)
            for i, (tab, label) in enumerate(TABS, 1)
        ),
    ]

    def __init__(self, mock: Mock) -> None:
        super().__init__()
        self.mock = mock
        self.state = MockState()
        self.session: Session = mock.session()
        self._stamp: tuple[int, int, int] | None = None
        self._seen_runs: int | None = None  # None: the first read announces nothing

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with TabbedContent(id="script"):
                with TabPane(TABS[0][1], id="prompt"), VerticalScroll():
                    yield Markdown(self.mock.prompt())
                for tab, label in TABS[1:]:
                    with TabPane(label, id=tab), VerticalScroll():
                        yield Static(id=f"{tab}-text")
            with VerticalScroll(id="side"):
                yield Static("Clock", classes="box-title")
                yield Static(id="clock")
                yield Static(id="phases")
                yield Static("Candidate", classes="box-title")
                yield Static(id="candidate")
                yield Static("Scores", classes="box-title")
                yield Static(id="scores")
                yield Static("Notes", classes="box-title")
                yield Static(id="notes")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.mock.kata.id}: {self.mock.kata.title}"
        self.query_one("#clarify-text", Static).update(
            as_text(views.planted(self.mock.script) + views.clarifications(self.mock.script))
        )
        self.query_one("#mistakes-text", Static).update(as_text(views.mistakes(self.mock.script)))
        self.refresh_state(force=True)
        self.set_interval(POLL_S, self.refresh_state)

    # --- reading the workspace -----------------------------------------------------------

    def _runs(self) -> int:
        return len(self.state.tests) + len(self.state.grades) + len(self.state.partials)

    def refresh_state(self, force: bool = False) -> None:
        """Re-read the timeline if it changed; redraw; the clock moves every time."""
        stamp = timeline.stamp(store.timeline_path(self.mock.root))
        if force or stamp != self._stamp:
            try:
                self.session = self.mock.session()
            except DrillError as exc:  # the workspace went away: say so, keep the script up
                if self._stamp != stamp:
                    self.notify(str(exc), title="workspace", severity="error")
                self._stamp = stamp
                return
            self._stamp = stamp
            self.state = fold(timeline.read(store.timeline_path(self.mock.root)))
            self._announce_runs()
            self._draw_script()
        self._draw_side()

    def _announce_runs(self) -> None:
        """A notice when the candidate ran tests or a grade since the last look."""
        runs = self._runs()
        if self._seen_runs is not None and runs > self._seen_runs:
            self.notify(views.latest_run(self.state), title="candidate")
        self._seen_runs = runs

    def _draw_script(self) -> None:
        script, state = self.mock.script, self.state
        self.query_one("#hints-text", Static).update(
            as_text(views.hints(script, state, "press h to reveal it"))
        )
        self.query_one("#follow-ups-text", Static).update(
            as_text(
                [*views.follow_ups(script, state), ("", ""), ("f marks the next one asked.", "dim")]
            )
        )
        self.query_one("#rubric-text", Static).update(as_text(views.rubric(script, state)))
        self.query_one("#candidate", Static).update(as_text(views.candidate(state)))
        self.query_one("#scores", Static).update(as_text(views.scores(script, state)))
        self.query_one("#notes", Static).update(as_text(views.notes(state)))

    def _draw_side(self) -> None:
        elapsed = self.session.elapsed_s(now())
        self.query_one("#clock", Static).update(as_text([views.clock(self.session, elapsed)]))
        self.query_one("#phases", Static).update(
            as_text(views.phases(self.mock.script, self.state, elapsed, "n moves on"))
        )

    # --- keys ----------------------------------------------------------------------------

    def _attempt(self, what: str, step: Callable[[], None]) -> None:
        """Run one recording step; a refusal (no hints left...) becomes a notice."""
        try:
            step()
        except DrillError as exc:
            self.notify(str(exc), title=what, severity="warning")
        self.refresh_state(force=True)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_reveal_hint(self) -> None:
        given = len(self.state.hints)
        hints = self.mock.script.hints
        if given >= len(hints):
            self.notify("every hint has been given", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:  # the hint agreed to, not whichever is next by now
                self._attempt("hint", lambda: self._reveal(given))

        self.action_tab("hints")
        self.push_screen(
            ConfirmHint(given + 1, len(hints), hints[given], self.mock.kata.hint_cost), answered
        )

    def _reveal(self, expected: int) -> None:
        index, _text = interview.reveal_next_hint(self.mock, expected)
        self.notify(f"hint {index + 1} revealed to the candidate")

    def action_next_phase(self) -> None:
        def step() -> None:
            index = interview.next_phase(self.mock)
            self.notify(f"phase: {self.mock.script.phases[index].name}")

        self._attempt("phase", step)

    def action_follow_up(self) -> None:
        def step() -> None:
            index = interview.ask_follow_up(self.mock)
            self.notify(f"follow-up {index + 1} asked")

        self.action_tab("follow-ups")
        self._attempt("follow-up", step)

    def action_score(self) -> None:
        self.action_tab("rubric")
        self.push_screen(ScoreRubric(self.mock, self.state), lambda _: self.refresh_state(True))

    def action_note(self) -> None:
        def saved(text: str | None) -> None:
            if text and text.strip():
                self._attempt("note", lambda: interview.note(self.mock, text))
                self.notify("note saved")

        self.push_screen(NoteInput(), saved)

    def action_estimate(self) -> None:
        rng = random.Random()
        question = generate(rng.choice(TOPIC_NAMES), rng.randrange(MAX_SEED))
        self.push_screen(EstimateQuestion(self.mock, question), lambda _: self.refresh_state(True))


def run_console(mock: Mock) -> None:
    InterviewerConsole(mock).run()
