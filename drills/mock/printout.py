"""`drill mock interviewer --print`: the console's content as plain text.

For a second screen (`watch -n 5 drill mock interviewer --print`), a printout, or a
terminal where a full-screen program is not welcome. Same sections, same words.
"""

from __future__ import annotations

import textwrap

from drills.mock import views
from drills.mock.interview import Mock
from drills.workspace import now

WIDTH = 88


def _section(title: str, lines: list[views.Line], *, wrap: bool = True) -> list[str]:
    out = ["", title.upper(), "-" * len(title)]
    for text, _style in lines:
        if not wrap or len(text) <= WIDTH:
            out.append(text)
            continue
        indent = " " * (len(text) - len(text.lstrip(" ")) + 4)
        out += textwrap.wrap(text, WIDTH, subsequent_indent=indent)
    return out


def printout(mock: Mock) -> str:
    session = mock.session()
    state = mock.state()
    elapsed = session.elapsed_s(now())
    script = mock.script
    head = f"drill mock: {mock.kata.id} ({mock.kata.title})"
    lines = [head, "=" * len(head), views.clock(session, elapsed)[0], f"workspace {mock.root}"]
    lines += _section("Phases", views.phases(script, state, elapsed))
    lines += _section("Candidate", views.candidate(state))
    prompt = mock.prompt().rstrip("\n").splitlines()
    lines += _section("Prompt (read it out)", [(t, "") for t in prompt], wrap=False)
    if script.bug is not None:
        lines += _section("The planted bug", views.planted(script))
    lines += _section("Clarifying questions and the answers to give", views.clarifications(script))
    lines += _section("Hint ladder", views.hints(script, state, "`drill mock hint` reveals it"))
    lines += _section("Follow-ups", views.follow_ups(script, state))
    lines += _section("Rubric", views.rubric(script, state))
    lines += _section("Scores", views.scores(script, state))
    lines += _section("Notes", views.notes(state))
    lines += _section("Common mistakes to watch for", views.mistakes(script))
    return "\n".join(lines) + "\n"
