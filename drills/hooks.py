"""What a session's mode adds to the candidate's commands: in practice, nothing.

`drill status`, `test`, `hint`, `grade` and `review` are one set of commands for both modes
(drills/actions.py). At fixed points they call a hook on the object `hooks_for` picks,
once per command, from the session's mode. `SessionHooks` is practice mode, where every
hook leaves things as they are; a mock interview overrides them in drills/mock/hooks.py
to take hints from the interviewer and record each test and grade for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drills.workspace import Mode, Session, Workspace

if TYPE_CHECKING:
    from drills.visible import VisibleResult
    from grader.kata import Kata
    from grader.report import Report


class SessionHooks:
    """The hooks of a practice session: each one changes nothing."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def refresh(self, session: Session) -> Session:
        """The session as the candidate's commands show it, from `session` as loaded."""
        return session

    def on_status(self, session: Session) -> None:
        """`drill status` is showing `session`, every hint in it included."""

    def new_hints(self, session: Session) -> list[tuple[int, str]]:
        """Hints someone else revealed since the candidate last looked, as (number, text)."""
        return []

    def check_hint(self) -> None:
        """Raise `BadInput` if the candidate may not take a hint themselves."""

    def on_test(self, session: Session, result: VisibleResult) -> None:
        """`drill test` ran the visible tests; `session` has recorded the result."""

    def before_grade(self, session: Session) -> Session:
        """The session to grade, just before the grader starts."""
        return self.refresh(session)

    def on_grade(self, session: Session, report: Report, only: set[str] | None) -> None:
        """`drill grade` finished. Also called for a partial grade (`--only`), which
        `session` does not keep."""

    def check_review(self, session: Session, kata: Kata, give_up: bool) -> None:
        """Raise `BadInput` if the model answer may not be shown yet."""

    def on_review(self, session: Session) -> None:
        """`drill review` is showing the model answer."""


def hooks_for(ws: Workspace, session: Session) -> SessionHooks:
    """The hooks of `session`'s mode, for one command in `ws`."""
    match session.mode:
        case Mode.PRACTICE:
            return SessionHooks(ws)
        case Mode.MOCK:
            from drills.mock.hooks import MockHooks  # only a mock session loads its code

            return MockHooks(ws)
