"""`drill review`: learn from the model answer once an attempt has been graded.

What it gathers: the diff from the candidate's solution.py to the model answer, the
reference stack's definition of each entrypoint (read from its source file, nothing
imported), the kata's follow-up questions and common mistakes, and what the attempt's
last grade failed on, in the grader's own words. A bug hunt adds the planted bug, why
it was subtle, and the candidate's diagnosis beside it.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.history import History
from drills.hooks import hooks_for
from drills.hunt import read_diagnosis
from drills.mock.script import PlantedBug, load_script
from drills.workspace import Session, Workspace, now
from grader.errors import BadInput
from grader.kata import Kata


@dataclass(frozen=True)
class Review:
    kata: Kata
    diff: str  # unified, from solution.py to the model answer; empty when they are equal
    reference: list[tuple[str, str]]  # (qualified name, source) per entrypoint
    follow_ups: tuple[str, ...]
    common_mistakes: tuple[str, ...]
    failures: list[tuple[str, str]]  # (check, the grader's reason) of the last grade
    gave_up: bool
    bug: PlantedBug | None = None  # a bug hunt's planted bug, with why it was subtle
    diagnosis: str | None = None  # what the candidate wrote in diagnosis.txt


def review(ws: Workspace, kata: Kata, *, give_up: bool) -> Review:
    """The review of the attempt in `ws`: refused before its first grade, unless the
    candidate gives up (recorded in the session, with the time).

    In a mock interview it is also refused until the interview is over (its time is up,
    or the interviewer has scored the rubric), --give-up included: giving up is said to
    the interviewer, who ends the interview by scoring it. Once over, the review is
    recorded in the timeline, and a grade after it is not the mock's grade."""
    session = ws.load()
    hooks = hooks_for(ws, session)
    hooks.check_review(session, kata, give_up)
    if session.last_grade is None and session.gave_up_at is None:
        if not give_up:
            raise BadInput(
                "grade this attempt first (`drill grade`), or pass --give-up to see the "
                "model answer now (recorded in the session)"
            )

        def record(s: Session) -> bool:
            s.gave_up_at = now().isoformat(timespec="seconds")
            return True

        session = ws.update(record)
    hooks.on_review(session)
    script = load_script(kata, session.variant)
    return Review(
        kata=kata,
        diff=_diff(ws.solution, kata.model_answer),
        reference=reference_sources(kata),
        follow_ups=script.follow_ups,
        common_mistakes=script.common_mistakes,
        failures=_failures(session.attempt) if session.last_grade else [],
        gave_up=session.gave_up_at is not None,
        bug=script.bug,
        diagnosis=read_diagnosis(ws.root) if script.bug is not None else None,
    )


def _diff(solution: Path, model: Path) -> str:
    mine = (
        solution.read_text(encoding="utf-8").splitlines(keepends=True) if solution.is_file() else []
    )
    theirs = model.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(difflib.unified_diff(mine, theirs, "solution.py", "model_answer.py"))


def reference_sources(kata: Kata) -> list[tuple[str, str]]:
    """Each entrypoint's definition in the kata's reference module, as written there."""
    spec = importlib.util.find_spec(kata.reference)
    if spec is None or spec.origin is None:
        return []
    source = Path(spec.origin).read_text(encoding="utf-8")
    tree = ast.parse(source)
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in kata.entrypoints:
            segment = ast.get_source_segment(source, node, padded=False)
            decorators = "".join(
                f"@{ast.get_source_segment(source, d)}\n" for d in node.decorator_list
            )
            found.append((f"{kata.reference}.{node.name}", decorators + (segment or "")))
    return found


def _failures(attempt: str) -> list[tuple[str, str]]:
    """The checks the attempt's last grade did not pass, with the grader's reason."""
    report = History().last_report(attempt)
    if report is None:
        return []
    checks: dict[str, dict[str, Any]] = report.get("checks", {})
    return [
        (name, str(c.get("reason", "")))
        for name, c in checks.items()
        if c.get("status") not in ("pass", "unmeasured")
    ]
