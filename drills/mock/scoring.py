"""`drill mock score`: the rubric, 1 to 4 per dimension, with the anchors shown for each.

Each score goes to the timeline the moment it is given, so an interview scored halfway
and then interrupted keeps the scores already given. Scoring again later adds newer
scores; the latest per dimension counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from drills.mock import interview
from drills.mock.interview import Mock
from drills.mock.script import Dimension

Ask = Callable[[str], str]
Show = Callable[[str, dict[int, str], int | None], None]


def record(mock: Mock, scores: Mapping[str, int | None], note: str | None) -> int:
    """Scores given as options; the number recorded."""
    given = {k: v for k, v in scores.items() if v is not None}
    for key, value in given.items():
        interview.score(mock, key, value)
    if note:
        interview.note(mock, note)
    return len(given)


def ask_score(d: Dimension, current: int | None, ask: Ask, show: Show) -> int | None:
    """One dimension: 1-4 scores it, Enter keeps what it has; anything else asks again."""
    show(d.title, d.anchors, current)
    keep = f"Enter keeps {current}" if current else "Enter skips"
    while True:
        answer = ask(f"score 1-4 ({keep}): ").strip()
        if not answer:
            return None
        if answer in ("1", "2", "3", "4"):
            return int(answer)


def interactive(mock: Mock, ask: Ask, show: Show) -> int:
    """Ask each dimension in turn, then one line of notes; the number of scores recorded.

    End of input (Ctrl-D) stops quietly; Ctrl-C propagates, and what was recorded stays.
    """
    recorded = 0
    state = mock.state()
    try:
        for d in mock.script.rubric:
            current = state.scores.get(d.key)
            value = ask_score(d, current.value if current else None, ask, show)
            if value is not None:
                interview.score(mock, d.key, value)
                recorded += 1
        interview.note(mock, ask("notes for the report (one line, Enter for none): "))
    except EOFError:
        pass
    return recorded
