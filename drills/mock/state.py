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
    t: float
    score: float
    passed: bool
    checks: dict[str, dict[str, Any]]  # name -> {"status", "score", "max", "reason"}
    only: tuple[str, ...]  # the checks asked for with --only; empty: all of them


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
    grades: list[GradeRun] = field(default_factory=list)
    hints: list[Mark] = field(default_factory=list)  # each hint once, in the order given
    phases: list[Mark] = field(default_factory=list)  # phase changes after the first
    follow_ups: list[Mark] = field(default_factory=list)
    scores: dict[str, Score] = field(default_factory=dict)  # the latest per dimension
    notes: list[Note] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    last_t: float = 0.0

    @property
    def first_pass_t(self) -> float | None:
        """When the visible tests first passed, in seconds from the start."""
        return next((r.t for r in self.tests if r.ok), None)

    def current_phase(self) -> int | None:
        """The phase the interviewer last moved to, or None if they never did."""
        return self.phases[-1].index if self.phases else None

    def hint_indices(self) -> list[int]:
        return [h.index for h in self.hints]


def describe_test(data: dict[str, Any]) -> str:
    return f"{data.get('passed', 0)} passed, {data.get('failed', 0)} failed"


def describe_grade(score: float, passed: bool, only: tuple[str, ...] | list[str]) -> str:
    verdict = "passed" if passed else "not passed"
    return f"{score:.1f}/100, {verdict}" + (f" (only {','.join(only)})" if only else "")


def _moment_label(event: Event) -> str:
    d = event.data
    if event.kind == "test":
        return f"test: {describe_test(d)}"
    if event.kind == "grade":
        score, passed = float(d.get("score", 0.0)), bool(d.get("passed"))
        return f"grade: {describe_grade(score, passed, list(d.get('only') or []))}"
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
            state.grades.append(
                GradeRun(
                    e.t,
                    float(d.get("score", 0.0)),
                    bool(d.get("passed")),
                    dict(d.get("checks", {})),
                    tuple(d.get("only") or ()),
                )
            )
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
