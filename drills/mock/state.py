"""What the timeline adds up to: hints given, phases, runs, scores, notes.

The timeline is the only truth; this folds it into the view every reader needs (the
console, the printout, the report, the replay). Folding is cheap, so readers fold
the whole file again whenever it changes instead of keeping state of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drills.mock.timeline import Event


@dataclass(frozen=True)
class VisibleRun:
    t: float
    passed: int
    failed: int
    ok: bool


@dataclass(frozen=True)
class GradeRun:
    """A full `drill grade`: a score out of 100."""

    t: float
    score: float
    passed: bool
    checks: dict[str, dict[str, Any]]  # name -> {"status", "score", "max", "reason"}


@dataclass(frozen=True)
class PartialRun:
    """A `drill grade --only` that left some of the kata's checks out. It is not a grade
    of the kata, so it has no score out of 100: only the checks that ran, and whether
    each of them passed."""

    t: float
    ran: tuple[str, ...]
    passed: bool  # every check that ran passed
    checks: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Mark:
    """A hint given, a phase entered, a follow-up asked: item `index` at `t`."""

    index: int
    t: float


@dataclass(frozen=True)
class Score:
    dimension: str
    value: int
    t: float


@dataclass(frozen=True)
class Note:
    text: str
    t: float
    by: str


@dataclass(frozen=True)
class Moment:
    """solution.py as it was at `t` (snapshot `sha`), and what happened then."""

    t: float
    at: str
    sha: str
    what: str  # "test: 2 passed, 1 failed", "hint 1 revealed", "edited"


@dataclass
class MockState:
    tests: list[VisibleRun] = field(default_factory=list)
    grades: list[GradeRun] = field(default_factory=list)  # full grades only
    partials: list[PartialRun] = field(default_factory=list)
    hints: list[Mark] = field(default_factory=list)  # each hint once, in the order given
    phases: list[Mark] = field(default_factory=list)  # phase changes after the first
    follow_ups: list[Mark] = field(default_factory=list)
    scores: dict[str, Score] = field(default_factory=dict)  # the latest per dimension
    notes: list[Note] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    last_t: float = 0.0
    reviewed_t: float | None = None  # when the candidate first opened `drill review`

    @property
    def first_pass_t(self) -> float | None:
        """When the visible tests first passed, in seconds from the start."""
        return next((r.t for r in self.tests if r.ok), None)

    def current_phase(self) -> int | None:
        """The phase the interviewer last moved to, or None if they never did."""
        return self.phases[-1].index if self.phases else None

    def hint_indices(self) -> list[int]:
        return [h.index for h in self.hints]

    def counted_grade(self) -> GradeRun | None:
        """The mock's grade: the last full grade made before the candidate saw the model
        answer (a grade after that scores the model answer's lessons, not the interview)."""
        counted = [g for g in self.grades if self.reviewed_t is None or g.t <= self.reviewed_t]
        return counted[-1] if counted else None

    def runs_after_review(self) -> int:
        """Full grades made after the candidate saw the model answer: shown, not counted."""
        if self.reviewed_t is None:
            return 0
        return sum(1 for g in self.grades if g.t > self.reviewed_t)


def describe_test(data: dict[str, Any]) -> str:
    return f"{data.get('passed', 0)} passed, {data.get('failed', 0)} failed"


def describe_grade(score: float, passed: bool) -> str:
    return f"{score:.1f}/100, {'passed' if passed else 'not passed'}"


def describe_partial(ran: tuple[str, ...] | list[str], passed: bool) -> str:
    """A partial grade as `drill grade --only` itself words it: no score out of 100."""
    done = "every check that ran passed" if passed else "not every check that ran passed"
    return f"partial: {', '.join(ran)} ({done})"


def partial_checks(data: dict[str, Any]) -> list[str] | None:
    """The checks a grade event ran when it was partial; None for a full grade.

    Events written since `partial` was recorded say it themselves. Older ones said only
    `only` (what --only asked for) beside a score of the checks that ran: read any
    `only` as partial, so that such a score is never taken for the kata's grade."""
    ran = data.get("partial" if "partial" in data else "only")
    return [str(c) for c in ran] if isinstance(ran, list) and ran else None


def _moment_label(event: Event) -> str:
    d = event.data
    if event.kind == "test":
        return f"test: {describe_test(d)}"
    if event.kind == "grade":
        ran = partial_checks(d)
        if ran is not None:
            return f"grade: {describe_partial(ran, bool(d.get('passed')))}"
        return f"grade: {describe_grade(float(d.get('score', 0.0)), bool(d.get('passed')))}"
    if event.kind == "review":
        return "model answer opened (`drill review`)"
    if event.kind == "hint":
        return f"hint {int(d.get('index', 0)) + 1} revealed"
    if event.kind in ("start", "resume"):
        return event.kind
    return "edited"


def fold(events: list[Event]) -> MockState:
    state = MockState()
    given: set[int] = set()
    for e in events:
        d = e.data
        state.last_t = max(state.last_t, e.t)
        if isinstance(d.get("snapshot"), str):
            state.moments.append(Moment(e.t, e.at, d["snapshot"], _moment_label(e)))
        if e.kind == "test":
            state.tests.append(
                VisibleRun(e.t, int(d.get("passed", 0)), int(d.get("failed", 0)), bool(d.get("ok")))
            )
        elif e.kind == "grade":
            ran = partial_checks(d)
            checks = dict(d["checks"]) if isinstance(d.get("checks"), dict) else {}
            if ran is not None:
                state.partials.append(PartialRun(e.t, tuple(ran), bool(d.get("passed")), checks))
            else:
                state.grades.append(
                    GradeRun(e.t, float(d.get("score", 0.0)), bool(d.get("passed")), checks)
                )
        elif e.kind == "review":
            if state.reviewed_t is None:
                state.reviewed_t = e.t
        elif e.kind == "hint":
            index = int(d.get("index", -1))
            if index >= 0 and index not in given:  # two interviewers racing: first one counts
                given.add(index)
                state.hints.append(Mark(index, e.t))
        elif e.kind == "phase":
            state.phases.append(Mark(int(d.get("index", 0)), e.t))
        elif e.kind == "follow_up":
            state.follow_ups.append(Mark(int(d.get("index", 0)), e.t))
        elif e.kind == "score":
            value = int(d.get("value", 0))
            if 1 <= value <= 4:
                dim = str(d.get("dimension"))
                state.scores[dim] = Score(dim, value, e.t)
        elif e.kind == "note" and str(d.get("text", "")).strip():
            state.notes.append(Note(str(d["text"]).strip(), e.t, e.by))
    return state
