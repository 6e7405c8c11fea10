"""`drill validate`: is a kata folder sound?

Well-formed (manifest and interview script against their schemas, every part present,
entrypoints defined by starter and model answer), the model answer scores 100, the
starter does not pass, and every known-wrong variant in `mutants/` is caught.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.errors import KataError
from grader.kata import Kata, load_kata_from, read_yaml, validate_schema
from grader.pipeline import grade
from grader.report import Report
from grader.stages.static import inspect_source

PARTS = (
    "prompt.md",
    "starter/solution.py",
    "starter/test_visible.py",
    "interview.yaml",
    "model_answer.py",
)
MIN_MUTANTS = 5


@dataclass(frozen=True)
class Finding:
    kata: str
    item: str
    ok: bool
    detail: str


def _asks_batch_of_1000(text: str) -> bool:
    return bool(re.search(r"\b1,?000\b", text) and re.search(r"batch|parallel", text))


def _asks_10x_scale(text: str) -> bool:
    return bool(re.search(r"\b10 ?[x×]|ten times", text) and "scal" in text)


# Follow-ups every interview script must ask: scale the solution out to a batch of 1000
# inputs run in parallel, and say what breaks at ten times the size.
REQUIRED_FOLLOW_UPS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("to batch it across 1000 inputs and parallelise it", _asks_batch_of_1000),
    ("what breaks at 10x scale", _asks_10x_scale),
)


def missing_follow_ups(follow_ups: list[str]) -> list[str]:
    """The required follow-up ideas that no follow-up in the list asks."""
    texts = [f.lower() for f in follow_ups]
    return [idea for idea, asks in REQUIRED_FOLLOW_UPS if not any(asks(t) for t in texts)]


def _mutant_bug(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[:1]
    return first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""


def check_structure(kata: Kata) -> Iterator[Finding]:
    for part in PARTS:
        present = (kata.folder / part).is_file()
        yield Finding(kata.id, part, present, "present" if present else "missing")
    if kata.interview_path.is_file():
        try:
            interview = validate_schema(
                kata.interview_path, read_yaml(kata.interview_path), "interview.schema.json"
            )
            yield Finding(kata.id, "interview.yaml", True, "matches its schema")
            missing = missing_follow_ups(interview["follow_ups"])
            yield Finding(
                kata.id,
                "interview.yaml follow-ups",
                not missing,
                f"no follow-up asks {' or '.join(missing)}" if missing else "both required ideas",
            )
        except KataError as exc:
            yield Finding(kata.id, "interview.yaml", False, str(exc))
    hidden = sorted(kata.hidden_dir.glob("test_*.py"))
    yield Finding(kata.id, "hidden suite", bool(hidden), f"{len(hidden)} test file(s)")
    for name in ("model_answer.py", "starter/solution.py"):
        path = kata.folder / name
        if path.is_file():
            missing = inspect_source(path).missing(kata.entrypoints)
            yield Finding(
                kata.id,
                f"{name} entrypoints",
                not missing,
                f"missing {', '.join(missing)}" if missing else "all defined",
            )
    mutants = kata.mutants()
    yield Finding(
        kata.id, "mutants", len(mutants) >= MIN_MUTANTS, f"{len(mutants)} (at least {MIN_MUTANTS})"
    )
    for m in mutants:
        if not _mutant_bug(m):
            yield Finding(
                kata.id, f"mutants/{m.name}", False, "first line must be a comment naming the bug"
            )


def caught_by(report: Report) -> str:
    """Which checks did not pass, or '' if the grade passed."""
    if report.passed:
        return ""
    bad = [name for name, c in report.checks.items() if c.status != "pass"]
    return ", ".join(bad) or "score below the pass mark"


def check_grades(kata: Kata, device: str = "cpu") -> Iterator[Finding]:
    model = grade(kata, kata.model_answer, device=device)
    ok = model.passed and model.score >= 100 - 1e-6
    problems = "; ".join(f"{n}: {c.reason}" for n, c in model.checks.items() if c.status != "pass")
    yield Finding(
        kata.id,
        "model answer scores 100",
        ok,
        f"{model.score:.1f}" + (f" ({problems})" if problems else ""),
    )
    starter = grade(kata, kata.starter_dir / "solution.py", device=device, only={"tests"})
    yield Finding(
        kata.id, "starter does not pass", not starter.passed, caught_by(starter) or "it passed"
    )
    for mutant in kata.mutants():
        yield check_mutant(kata, mutant, device)


def check_mutant(kata: Kata, mutant: Path, device: str = "cpu") -> Finding:
    """A mutant is caught when its grade does not pass: tests first, the rest if needed."""
    report = grade(kata, mutant, device=device, only={"tests"})
    if report.passed:
        report = grade(kata, mutant, device=device)
    by = caught_by(report)
    detail = f"caught by {by}" if by else f"NOT caught: {_mutant_bug(mutant)}"
    return Finding(kata.id, f"mutants/{mutant.name}", bool(by), detail)


def validate(
    folder: Path, *, grades: bool = True, on_finding: Callable[[Finding], None] | None = None
) -> list[Finding]:
    findings: list[Finding] = []

    def add(f: Finding) -> None:
        findings.append(f)
        if on_finding:
            on_finding(f)

    try:
        kata = load_kata_from(folder)
    except KataError as exc:
        add(Finding(folder.name, "kata.yaml", False, str(exc)))
        return findings
    add(Finding(kata.id, "kata.yaml", True, "matches its schema"))
    for f in check_structure(kata):
        add(f)
    if grades and all(f.ok for f in findings):
        for f in check_grades(kata):
            add(f)
    return findings
