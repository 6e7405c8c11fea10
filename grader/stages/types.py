"""The types check: `mypy --strict` on the solution, on our terms.

mypy runs on a private copy from which every `# type: ignore` and file-level
`# mypy:` comment has been blanked (same columns, so line numbers still point into
the candidate's file), with our own `--config-file`. Its cache lives in the user
cache directory, keyed by mypy, torch and Python versions: cold, mypy over a file that
imports torch takes seconds (torch's compiler internals skipped, see mypy.ini);
warm, much less (docs/benchmarks.md).
"""

from __future__ import annotations

import io
import json
import platform
import re
import subprocess
import sys
import tokenize
from importlib import metadata
from pathlib import Path

from grader.context import GradeContext
from grader.paths import cache_dir
from grader.report import Check
from grader.sandbox import child_env, run_tracked

CONFIG = Path(__file__).resolve().parent / "mypy.ini"
SUPPRESSING = re.compile(r"#\s*(type\s*:\s*ignore|mypy\s*:)", re.IGNORECASE)
MAX_MESSAGES = 20
DEADLINE_S = 180.0


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def mypy_cache_dir() -> Path:
    key = f"mypy-{_version('mypy')}-torch-{_version('torch')}-py{platform.python_version()}"
    return cache_dir() / key


def strip_suppressions(source: str) -> tuple[str, int]:
    """Blank comments that silence mypy; returns the new source and how many there were."""
    lines = source.splitlines(keepends=True)
    count = 0
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source, 0
    for tok in tokens:
        if tok.type == tokenize.COMMENT and SUPPRESSING.search(tok.string):
            row, col = tok.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + " " * len(tok.string) + line[col + len(tok.string) :]
            count += 1
    return "".join(lines), count


def run_mypy(file: Path, workdir: Path) -> list[dict[str, object]]:
    """mypy's JSON errors for `file` (a child process; mypy's import stays out of ours)."""
    stdout, stderr = workdir / "mypy.stdout", workdir / "mypy.stderr"
    config = {
        "file": str(file),
        "config_file": str(CONFIG),
        "cache_dir": str(mypy_cache_dir()),
        "stdout": str(stdout),
        "stderr": str(stderr),
    }
    (workdir / "types.json").write_text(json.dumps(config))
    status = run_tracked(
        [sys.executable, "-I", "-m", "grader.judge.run_mypy", str(workdir / "types.json")],
        workdir,
        child_env(workdir),
        DEADLINE_S,
    )
    if status not in (0, 1, 2) or not stdout.exists():  # killed, or crashed before mypy ran
        return [
            {
                "line": 0,
                "message": "mypy did not run to completion",
                "code": "internal",
                "severity": "error",
            }
        ]
    out_text = stdout.read_text(encoding="utf-8", errors="replace")
    errors: list[dict[str, object]] = []
    for line in out_text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("severity") == "error":
            errors.append(item)
    if status != 0 and not errors:  # mypy itself failed (bad file: 2; a crash: 1, no messages)
        err_text = stderr.read_text(encoding="utf-8", errors="replace") if stderr.exists() else ""
        text = (err_text or out_text).strip().splitlines()
        errors.append(
            {"line": 0, "message": text[-1] if text else "mypy failed", "code": "internal"}
        )
    return errors


def check_types(ctx: GradeContext) -> Check:
    # Types are checked on what the kata asks for: a file that does not parse, or that
    # defines none of it, has nothing for mypy to vouch for (an empty file is not typed).
    facts = ctx.facts
    if facts.syntax_error:
        return Check("types", "error", reason=f"solution does not parse: {facts.syntax_error}")
    missing = facts.missing(ctx.kata.entrypoints)
    if len(missing) == len(ctx.kata.entrypoints):
        reason = f"solution.py defines none of {', '.join(missing)}: nothing to type-check"
        return Check("types", "error", reason=reason)
    workdir = ctx.stage_dir("types")
    source = ctx.solution.read_text(encoding="utf-8", errors="replace")
    stripped, suppressed = strip_suppressions(source)
    target = workdir / "solution.py"
    target.write_text(stripped, encoding="utf-8")
    try:
        errors = run_mypy(target, workdir)
    except subprocess.TimeoutExpired:
        return Check("types", "error", reason=f"mypy did not finish within {DEADLINE_S:.0f} s")
    messages = [
        f"solution.py:{e.get('line')}: {e.get('message')} [{e.get('code')}]" for e in errors
    ]
    details: dict[str, object] = {
        "errors": len(errors),
        "messages": messages[:MAX_MESSAGES],
        "suppressions_ignored": suppressed,
        "errors_at": [
            {"line": e.get("line"), "message": e.get("message")} for e in errors[:MAX_MESSAGES]
        ],
    }
    evasions = facts.type_evasions(ctx.kata.entrypoints)
    if evasions:
        details["evasions"] = evasions
        reason = f"mypy cannot vouch for this code: {evasions[0]}"
        if len(evasions) > 1:
            reason += f" (and {len(evasions) - 1} more)"
        return Check("types", "fail", reason=reason, details=details)
    if not errors:
        return Check("types", "pass", details=details)
    reason = f"mypy --strict: {len(errors)} error(s); first: {messages[0]}"
    if suppressed:
        reason += f" ({suppressed} '# type: ignore' / '# mypy:' comment(s) were not honoured)"
    return Check("types", "fail", reason=reason, details=details)
