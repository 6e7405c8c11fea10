"""A mock interview's side of the candidate's commands (the hooks of drills/hooks.py).

The candidate runs the same `drill status`, `test`, `hint` and `grade` as in practice.
In a mock interview their hints come from the interviewer, through the timeline, and
every test run and grade goes into the timeline for the interviewer to see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drills.hooks import SessionHooks
from drills.mock import interview, watch
from drills.workspace import Session, Workspace
from grader.errors import BadInput

if TYPE_CHECKING:
    from drills.visible import VisibleResult
    from grader.kata import Kata
    from grader.report import Report


class MockHooks(SessionHooks):
    def __init__(self, ws: Workspace) -> None:
        super().__init__(ws)
        self._graded: str | None = None  # the snapshot of what the running grade scores

    def refresh(self, session: Session) -> Session:
        # Every command of the candidate keeps the snapshot watcher alive, and sees the
        # hints the timeline has even where session.json lost them (a merge, a race).
        watch.ensure_running(self.ws.root)
        return interview.sync_hints(self.ws)

    def on_status(self, session: Session) -> None:
        interview.mark_hints_seen(self.ws, session)  # status lists every hint

    def new_hints(self, session: Session) -> list[tuple[int, str]]:
        return interview.unseen_hints(self.ws, self.refresh(session))

    def check_hint(self) -> None:
        raise BadInput("this is a mock interview: hints come from your interviewer")

    def on_test(self, session: Session, result: VisibleResult) -> None:
        interview.on_test(self.ws, session, result.passed, result.failed, result.ok)

    def before_grade(self, session: Session) -> Session:
        session = self.refresh(session)  # the interviewer's hints count in this grade
        self._graded = interview.before_grade(self.ws)
        return session

    def on_grade(self, session: Session, report: Report, only: set[str] | None) -> None:
        interview.on_grade(self.ws, session, report, self._graded)

    def check_review(self, session: Session, kata: Kata, give_up: bool) -> None:
        # Giving up is said to the interviewer, who ends the interview by scoring it.
        why = interview.still_on(self.ws, session, kata)
        if why is not None:
            raise BadInput(
                f"this is a mock interview: the model answer opens when it is over, {why}"
                + ("; to give up, tell your interviewer, who ends it by scoring" if give_up else "")
            )

    def on_review(self, session: Session) -> None:
        interview.on_review(self.ws, session)  # grades after it are not the mock's
