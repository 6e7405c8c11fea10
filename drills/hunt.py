"""Bug hunts: which planted bug a new attempt gets, and what the workspace says about it.

A bug hunt's catalogue is its `mutants.yaml`: each entry a bug planted alone into the
model answer, with the symptom a user would report. A new attempt draws a bug this
candidate has not been given before (the history records every draw); once every bug
of a file has been drawn, the one drawn longest ago comes back.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from grader.errors import BadInput
from grader.kata import Kata
from grader.mutants import Mutant
from grader.paths import read_own_file
from grader.wording import printable

ALIAS = "bug-hunt"  # `drill start bug-hunt`: the family with the most bugs left to see
DIAGNOSIS = "diagnosis.txt"
DIAGNOSIS_TEMPLATE = (
    "# Optional: one line saying what was wrong and why (shown by `drill review` and in\n"
    "# the mock report). Lines starting with # are ignored.\n"
)


def families() -> list[Kata]:
    """Every bug hunt installed: what `bug-hunt` stands for in start, show, history and
    validate."""
    from grader.kata import all_katas

    return [k for k in all_katas() if k.is_bug_hunt]


def draw(bugs: Sequence[Mutant], drawn: Sequence[str], rng: random.Random) -> Mutant:
    """A bug not in `drawn` (the names drawn before, oldest first), chosen by `rng`; when
    every bug has been drawn, the one whose last draw is the oldest."""
    if not bugs:
        raise BadInput("this bug hunt has no planted bugs to draw from")
    unseen = [b for b in bugs if b.name not in drawn]
    if unseen:
        return rng.choice(unseen)
    last = {name: i for i, name in enumerate(drawn)}
    return min(bugs, key=lambda b: last[b.name])


def named(bugs: Sequence[Mutant], name: str, kata: Kata) -> Mutant:
    """The bug called `name` (`drill start KATA --bug NAME`)."""
    for bug in bugs:
        if bug.name == name:
            return bug
    names = ", ".join(b.name for b in bugs)
    raise BadInput(f"--bug: {kata.id} has no planted bug named '{name}'; it has {names}")


def pick_family(hunts: Sequence[tuple[Kata, int, int]]) -> Kata:
    """`drill start bug-hunt`: of (kata, bugs left unseen, draws so far) per family, the
    one with the most bugs left, then the fewest draws, then by id."""
    if not hunts:
        raise BadInput("no bug hunt is installed")
    return min(hunts, key=lambda h: (-h[1], h[2], h[0].id))[0]


def prompt_text(kata: Kata, bug: Mutant | None) -> str:
    """PROMPT.md as a workspace gets it: the kata's prompt, and a bug hunt's report."""
    prompt = kata.prompt_path.read_text(encoding="utf-8")
    return prompt + report_section(bug) if bug is not None else prompt


def report_section(bug: Mutant) -> str:
    """What PROMPT.md adds for the drawn bug: the report as a user filed it."""
    tests = ", ".join(f"`{t}`" for t in bug.shows_in)
    symptom = "\n".join(f"> {line}" if line else ">" for line in bug.symptom.splitlines())
    return (
        "\n## The report\n\n"
        f"{symptom}\n\n"
        f"The tests attached to the report ({tests}) fail on the file you were given; "
        "`drill test` runs them with the rest of the visible tests.\n"
    )


def read_diagnosis(root: Path) -> str | None:
    """The candidate's one-line diagnosis, if they wrote one."""
    try:  # the file itself: a link could name a file of whoever shows the diagnosis
        text = read_own_file(root / DIAGNOSIS, 1 << 16).decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line.strip() for line in text.splitlines()]
    written = [line for line in lines if line and not line.startswith("#")]
    return printable(" ".join(written)[:500]) or None
