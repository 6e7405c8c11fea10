"""Stage 7, diff: how much of a bug hunt's given file the fix changed.

A bug hunt hands the candidate the model answer with one planted bug in it. A fix is
a change to the lines that hold the bug; rewriting the file until the tests pass is a
different skill, and the grade says so. The measure is the number of changed code
lines (a replaced line counts once; blank and comment-only lines do not count, so a
comment explaining the fix is free), against the file the session was given, or,
graded without a session, against the nearest file the kata could have given.
"""

from __future__ import annotations

import difflib

from grader.context import GradeContext
from grader.errors import KataError
from grader.kata import Kata
from grader.mutants import load_mutants, planted_source
from grader.report import Check

# Past this many lines the solution is not a fix of a 200-400 line file, whatever the
# diff says; counting stops there rather than running a quadratic diff on a huge file.
MAX_LINES = 5000


def code_lines(source: str) -> list[str]:
    """The lines a fix is measured on: no blank lines, no comment-only lines, no
    trailing whitespace."""
    lines = (line.rstrip() for line in source.splitlines())
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def changed_lines(given: str, fixed: str) -> int:
    """Code lines changed from `given` to `fixed`: a replaced block of a lines by b lines
    counts max(a, b); an insertion or a deletion counts its lines."""
    before, after = code_lines(given), code_lines(fixed)
    if len(after) > MAX_LINES:
        return len(after)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )


def given_files(kata: Kata, variant: str | None) -> tuple[list[str], bool]:
    """The file(s) the fix is measured against, and whether that is the session's own:
    the planted file of `variant`, else every file the kata can hand out."""
    bugs = load_mutants(kata)
    named = [m for m in bugs if m.name == variant]
    if named:
        return [planted_source(kata, named[0])], True
    return [planted_source(kata, m) for m in bugs], False


def check_diff(ctx: GradeContext, variant: str | None) -> Check:
    spec = ctx.kata.diff
    assert spec is not None
    try:
        fixed = ctx.solution.read_text(encoding="utf-8", errors="replace")
        givens, own = given_files(ctx.kata, variant)
    except (OSError, KataError) as exc:
        return Check("diff", "error", reason=f"the given file could not be rebuilt: {exc}")
    changed = min(changed_lines(given, fixed) for given in givens)
    against = "the file you were given" if own else "the nearest file this bug hunt hands out"
    details = {"changed_lines": changed, "budget_lines": spec.max_lines, "against_given": own}
    plural = "line" if changed == 1 else "lines"
    if changed <= spec.max_lines:
        return Check("diff", "pass", details=details)
    reason = (
        f"{changed} code {plural} changed against {against}, over the budget of "
        f"{spec.max_lines}: a rewrite is not a fix"
    )
    if spec.advice:
        reason += f" ({spec.advice})"
    return Check("diff", "fail", reason=reason, details=details)
