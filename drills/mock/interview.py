"""A mock interview's operations: what either side does, written to the shared files.

The candidate side (`drill mock start`, and the hooks that `drill test`, `drill grade`
and `drill status` call) and the interviewer side (reveal a hint, move to the next phase,
mark a follow-up asked, score, take a note) both go through here. Every operation
appends to the timeline before it returns; session.json is changed only under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills.mock import snapshots, store, timeline
from drills.mock.script import DIMENSIONS, Script, load_script
from drills.mock.state import Mark, MockState, fold
from drills.workspace import Hint, Mode, Session, Workspace, find_workspace
from grader.errors import BadInput
from grader.kata import Kata, load_kata
from grader.wording import minutes

if TYPE_CHECKING:
    from grader.report import Report


@dataclass(frozen=True)
class Mock:
    """An open mock interview: its workspace, kata and script."""

    ws: Workspace
    kata: Kata
    script: Script

    @property
    def root(self) -> Path:
        return self.ws.root

    def session(self) -> Session:
        return self.ws.load()

    def prompt(self) -> str:
        """The prompt as the candidate's workspace got it (a bug hunt's with its report)."""
        from drills.hunt import prompt_text
        from grader.mutants import mutant_named

        variant = self.session().variant
        bug = mutant_named(self.kata, variant) if variant and self.kata.is_bug_hunt else None
        return prompt_text(self.kata, bug)

    def events(self) -> list[timeline.Event]:
        return timeline.read(store.timeline_path(self.root))

    def state(self) -> MockState:
        return fold(self.events())

    def record(self, session: Session, kind: str, by: str, **data: Any) -> timeline.Event:
        event = timeline.new_event(session, kind, by, **data)
        timeline.append(store.timeline_path(self.root), event)
        return event


def open_mock(directory: Path) -> Mock:
    """The mock interview at `directory` (or the nearest parent); exit 2 if there is none."""
    ws = find_workspace(directory)
    session = ws.load()
    if session.mode is not Mode.MOCK:
        raise BadInput(
            f"{ws.root} is a practice session, not a mock interview: "
            "start one with `drill mock start KATA`"
        )
    kata = load_kata(session.kata)
    return Mock(ws, kata, load_script(kata, session.variant).fitted(session.limit_s))


def begin(ws: Workspace, session: Session, *, resumed: bool) -> None:
    """Set up the mock files of a new (or resumed) session and record the first snapshot."""
    store.init(ws.root)
    kind = "resume" if resumed else "start"
    sha = snapshots.take(ws.root)
    event = timeline.new_event(
        session, kind, "candidate", kata=session.kata, limit_s=session.limit_s, snapshot=sha
    )
    timeline.append(store.timeline_path(ws.root), event)


# --- the interviewer's side -------------------------------------------------------------


def next_hint(mock: Mock) -> int:
    """The index of the hint `reveal_next_hint` would reveal; exit 2 if none is left."""
    index = len(mock.state().hint_indices())
    _refuse_when_none_left(mock, index)
    return index


def _refuse_when_none_left(mock: Mock, index: int) -> None:
    if index >= len(mock.script.hints):
        raise BadInput(f"no hints left: all {len(mock.script.hints)} have been revealed")


def reveal_next_hint(mock: Mock, expected: int | None = None) -> tuple[int, str]:
    """Reveal the next hint on the ladder: in the timeline and in session.hints.

    Returns (index, text). The whole step holds the session lock, so two interviewer
    windows pressing at once reveal two different hints, never the same one twice.
    `expected`: the hint the interviewer agreed to reveal; if another window revealed
    it meanwhile, nothing more is revealed (they agreed to that one, not the next).
    """
    with mock.ws.lock():
        session = mock.session()
        given = mock.state().hint_indices()
        index = len(given)
        if expected is not None and index != expected:
            raise BadInput(
                f"hint {expected + 1} was revealed meanwhile (another window): "
                "nothing more was revealed"
            )
        _refuse_when_none_left(mock, index)
        event = mock.record(
            session, "hint", "interviewer", index=index, snapshot=snapshots.take(mock.root)
        )
        _add_hint(session, index, event)
        mock.ws.save(session)
    return index, mock.script.hints[index]


def _add_hint(session: Session, index: int, event: timeline.Event) -> bool:
    if any(h.index == index for h in session.hints):
        return False
    session.hints.append(Hint(index=index, at=event.at[:19] + "+00:00", elapsed_s=event.t))
    session.hints.sort(key=lambda h: h.index)
    return True


def next_phase(mock: Mock) -> int:
    """Move the clock to the next phase; the index of the phase now running."""
    state = mock.state()
    session = mock.session()
    current = state.current_phase()
    if current is None:
        current = 0
    index = current + 1
    if index >= len(mock.script.phases):
        raise BadInput(f"already in the last phase ({mock.script.phases[-1].name})")
    mock.record(session, "phase", "interviewer", index=index, name=mock.script.phases[index].name)
    return index


def ask_follow_up(mock: Mock, index: int | None = None) -> int:
    """Mark a follow-up asked (the next one not yet asked, by default); its index."""
    asked = {m.index for m in mock.state().follow_ups}
    if index is None:
        index = next((i for i in range(len(mock.script.follow_ups)) if i not in asked), -1)
        if index < 0:
            raise BadInput("every follow-up has been asked")
    if not 0 <= index < len(mock.script.follow_ups):
        raise BadInput(f"follow-up {index + 1}: there are {len(mock.script.follow_ups)}")
    mock.record(mock.session(), "follow_up", "interviewer", index=index)
    return index


def score(mock: Mock, dimension: str, value: int) -> None:
    if dimension not in DIMENSIONS:
        raise BadInput(f"unknown rubric dimension '{dimension}': one of {', '.join(DIMENSIONS)}")
    if value not in (1, 2, 3, 4):
        raise BadInput(f"{dimension}: a score is 1, 2, 3 or 4, not {value}")
    mock.record(mock.session(), "score", "interviewer", dimension=dimension, value=value)


def note(mock: Mock, text: str, by: str = "interviewer") -> None:
    if text.strip():
        mock.record(mock.session(), "note", by, text=text.strip())


# --- the end of the interview --------------------------------------------------------------


def still_on(ws: Workspace, session: Session, kata: Kata) -> str | None:
    """Why the interview is not over yet, or None once it is.

    It is over at its time limit, or once the interviewer has scored every rubric
    dimension (`drill mock score`, `s` in the console): scoring is what an interviewer
    does at the end. Until then the model answer stays closed (`drill review`)."""
    left = session.left_s()
    if left <= 0:
        return None
    scored = fold(timeline.read(store.timeline_path(ws.root))).scores
    rubric = load_script(kata, session.variant).rubric
    if all(d.key in scored for d in rubric):
        return None
    return (
        f"at its time limit (in {minutes(left)}), or once the interviewer has scored every "
        "rubric dimension (`drill mock score`)"
    )


def on_review(ws: Workspace, session: Session) -> None:
    """The candidate opened the model answer (the first time is what counts): grades
    after this are not the mock's."""
    path = store.timeline_path(ws.root)
    if not any(e.kind == "review" for e in timeline.read(path)):
        timeline.append(path, timeline.new_event(session, "review", "candidate"))


# --- the candidate's side: what drill test / grade / status call, through hooks.py -------


def sync_hints(ws: Workspace) -> Session:
    """Copy hints from the timeline into session.hints if missing (a session.json that a
    git merge or a lost race left behind); the session as it now is."""
    events = timeline.read(store.timeline_path(ws.root))
    revealed = _hint_events(events)

    def change(session: Session) -> bool:
        changed = False
        for mark, event in revealed:
            changed |= _add_hint(session, mark.index, event)
        return changed

    if not revealed:
        return ws.load()
    return ws.update(change)


def _hint_events(events: list[timeline.Event]) -> list[tuple[Mark, timeline.Event]]:
    by_index = {e.data.get("index"): e for e in reversed(events) if e.kind == "hint"}
    return [(Mark(int(i), e.t), e) for i, e in sorted(by_index.items()) if isinstance(i, int)]


def on_test(ws: Workspace, session: Session, passed: int, failed: int, ok: bool) -> None:
    event = timeline.new_event(
        session,
        "test",
        "candidate",
        passed=passed,
        failed=failed,
        ok=ok,
        snapshot=snapshots.take(ws.root),
    )
    timeline.append(store.timeline_path(ws.root), event)


def before_grade(ws: Workspace) -> str | None:
    """Snapshot what is about to be graded (the candidate may type on while it runs)."""
    return snapshots.take(ws.root)


def on_grade(ws: Workspace, session: Session, report: Report, sha: str | None) -> None:
    checks = {
        name: {"status": c.status, "score": round(c.score, 1), "max": c.max, "reason": c.reason}
        for name, c in report.checks.items()
    }
    # A partial grade (--only left some checks out) is not a grade of the kata: its
    # event carries the checks that ran and no score, so no reader can take it for one.
    result: dict[str, Any] = (
        {"partial": list(report.partial)} if report.partial else {"score": round(report.score, 1)}
    )
    event = timeline.new_event(
        session,
        "grade",
        "candidate",
        **result,
        passed=report.passed,
        checks=checks,
        snapshot=sha,
    )
    timeline.append(store.timeline_path(ws.root), event)


def unseen_hints(ws: Workspace, session: Session) -> list[tuple[int, str]]:
    """Hints revealed since the candidate last looked, as (number, text); now marked seen."""
    hints = load_script(load_kata(session.kata), session.variant).hints
    seen = store.read_seen(ws.root)
    fresh = [(h.index + 1, hints[h.index]) for h in session.hints[seen:] if h.index < len(hints)]
    if len(session.hints) != seen:
        store.write_seen(ws.root, len(session.hints))
    return fresh


def mark_hints_seen(ws: Workspace, session: Session) -> None:
    if store.read_seen(ws.root) != len(session.hints):
        store.write_seen(ws.root, len(session.hints))
