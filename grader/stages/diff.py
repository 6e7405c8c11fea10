"""The diff check: how much of a bug hunt's given file the fix changed.

A bug hunt hands the candidate the model answer with one planted bug in it. A fix is
a change to the lines that hold the bug; rewriting the file until the tests pass is a
different skill, and the grade says so. The measure is the number of changed code
lines against the file the session was given, or, graded without a session, against
the nearest file the kata could have given. A replaced line counts once, and a line
counts once per started 100 characters (the kata files keep to 100 columns), so a
rewrite cannot hide on one long line. Blank and comment-only lines, as the tokenizer
sees them (a line inside a string is code), are free until what they add passes 300
characters: a comment explaining the fix is free, a payload the code reads back from
its own file is not.
"""

from __future__ import annotations

import difflib
import io
import tokenize
from collections import Counter

from grader.context import GradeContext
from grader.errors import KataError
from grader.kata import Kata
from grader.mutants import load_mutants, planted_source
from grader.report import Check

# A changed line counts once per started LINE_CHARS characters, its indentation and
# trailing whitespace included (whitespace can carry a payload as well as text can).
LINE_CHARS = 100
# Past this many lines (or their worth in characters) the solution is not a fix of a
# 200-400 line file, whatever the diff says; counting stops there rather than
# tokenizing a huge file and running a quadratic diff on it.
MAX_LINES = 5000
# What blank and comment-only lines may add, in characters, before they count.
FREE_CHARS = 300
# Tokens that are not code: a line holding nothing else is blank or a comment.
NOT_CODE = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
)


def split_lines(source: str) -> tuple[list[str], list[str]]:
    """The code lines of `source` and its blank or comment-only lines, without their line
    endings. A file that does not tokenize has every line with something on it as code."""
    # Python ends a line at \r\n and at a lone \r too: so do the rows counted here.
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip("\n") for line in io.StringIO(source).readlines()]
    rows = _code_rows(source)
    if rows is None:
        rows = {row for row, line in enumerate(lines, 1) if line.strip()}
    code = [line for row, line in enumerate(lines, 1) if row in rows]
    free = [line for row, line in enumerate(lines, 1) if row not in rows]
    return code, free


def _code_rows(source: str) -> set[int] | None:
    """The rows that hold a code token, every row a multi-line string spans included."""
    rows: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type not in NOT_CODE:
                rows.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return rows


def weight(lines: list[str]) -> int:
    """What `lines` count: each line once per started LINE_CHARS characters."""
    return sum(max(1, -(-len(line) // LINE_CHARS)) for line in lines)


def changed_lines(given: str, fixed: str) -> int:
    """Code lines changed from `given` to `fixed`: a replaced block counts the larger of
    what it removed and what it added, an insertion or a deletion what it holds; then
    what blank and comment-only lines added past FREE_CHARS."""
    if len(fixed) > MAX_LINES * LINE_CHARS:
        return -(-len(fixed) // LINE_CHARS)
    (before, given_free), (after, fixed_free) = split_lines(given), split_lines(fixed)
    if len(after) > MAX_LINES:
        return weight(after)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    code = sum(
        max(weight(before[i1:i2]), weight(after[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    )
    return code + _free_lines_over(given_free, fixed_free)


def _free_lines_over(given: list[str], fixed: list[str]) -> int:
    """Blank and comment-only lines added, counted as code once their characters (one at
    least for each line) pass FREE_CHARS."""
    added = Counter(fixed) - Counter(given)
    chars = sum(max(1, len(line)) * count for line, count in added.items())
    return max(0, -(-(chars - FREE_CHARS) // LINE_CHARS))


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
        f"{changed} {plural} changed against {against} (a line counts once per "
        f"{LINE_CHARS} characters), over the budget of {spec.max_lines}: a rewrite is not a fix"
    )
    if spec.advice:
        reason += f" ({spec.advice})"
    return Check("diff", "fail", reason=reason, details=details)
