"""`drill validate`: is a kata folder sound?

Well-formed (manifest and interview script against their schemas, every part present,
entrypoints defined by starter and model answer), the model answer scores 100, the
starter does not pass, and every known-wrong variant in `mutants.yaml` applies to the
model answer and is caught by the checks it names.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.checks import MEASURED
from grader.errors import KataError
from grader.kata import Kata, load_kata_from, read_yaml, validate_schema
from grader.mutants import Mutant, load_mutants, mutants_path, mutated_source, write_mutant
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
    yield from check_mutants(kata)


def check_mutants(kata: Kata) -> Iterator[Finding]:
    """mutants.yaml matches its schema, names enough mutants, and each one applies."""
    if not mutants_path(kata).is_file():
        yield Finding(kata.id, "mutants.yaml", False, "missing")
        return
    try:
        mutants = load_mutants(kata)
    except KataError as exc:
        yield Finding(kata.id, "mutants.yaml", False, str(exc))
        return
    enough = len(mutants) >= MIN_MUTANTS
    yield Finding(kata.id, "mutants", enough, f"{len(mutants)} (at least {MIN_MUTANTS})")
    for m in mutants:
        ungraded = [c for c in m.caught_by if c not in kata.weights]
        if ungraded:
            detail = f"caught_by names {', '.join(ungraded)}, which this kata does not grade"
            yield Finding(kata.id, f"mutant {m.name}", False, detail)
            continue
        if kata.model_answer.is_file():
            try:
                mutated_source(kata, m)
            except KataError as exc:
                yield Finding(kata.id, f"mutant {m.name}", False, str(exc))


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
    for mutant in load_mutants(kata):
        yield check_mutant(kata, mutant, device)


def catches(name: str, status: str) -> bool:
    """A check catches a mutant when it fails it; for the hidden tests, a solution they
    could not run at all (an import that raises, say) is caught too."""
    return status == "fail" or (name == "tests" and status == "error")


def check_mutant(kata: Kata, mutant: Mutant, device: str = "cpu") -> Finding:
    """Grade the mutant on the checks it names: each of them must catch it.

    A measured check scores only a solution that passes the hidden tests, so those run
    beside it."""
    wanted = set(mutant.caught_by)
    if wanted & set(MEASURED):
        wanted.add("tests")
    with tempfile.TemporaryDirectory(prefix="drill-mutant-") as tmp:
        solution = write_mutant(kata, mutant, Path(tmp))
        report = grade(kata, solution, device=device, only=wanted)
    missed = []
    for name in mutant.caught_by:
        check = report.checks[name]
        if not catches(name, check.status):
            why = f": {check.reason}" if check.reason else ""
            missed.append(f"{name} ({check.status}{why})")
    if missed:
        detail = f"NOT caught by {'; '.join(missed)}: {mutant.bug}"
        return Finding(kata.id, f"mutant {mutant.name}", False, detail)
    detail = f"caught by {', '.join(mutant.caught_by)}"
    return Finding(kata.id, f"mutant {mutant.name}", True, detail)


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
