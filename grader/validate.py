"""`drill validate`: is a kata folder sound?

Well-formed (manifest and interview script against their schemas, every part present,
entrypoints defined by starter and model answer), the model answer scores 100, the
starter does not pass, and every known-wrong variant in `mutants.yaml` applies to the
model answer and is caught by the checks it names.
"""

from __future__ import annotations

import ast
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.checks import MEASURED
from grader.errors import KataError
from grader.kata import Kata, load_kata_from, read_yaml, validate_schema
from grader.mutants import (
    Mutant,
    load_mutants,
    mutants_path,
    mutated_source,
    planted_source,
    write_mutant,
)
from grader.pipeline import grade
from grader.report import Report
from grader.stages.diff import changed_lines
from grader.stages.static import inspect_source

PARTS = (
    "prompt.md",
    "starter/solution.py",
    "starter/test_visible.py",
    "interview.yaml",
    "model_answer.py",
)
MIN_MUTANTS = 5
MIN_TESTS = 25  # a full kata's hidden suite (the grader's own toy kata has fewer)
# Runs a folder's visible tests (test_*.py beside solution.py) once per solution source,
# in the candidate's sandbox; the names of the tests that failed, per source. The caller
# gives it (drill's visible runner) so that the grader does not depend on the CLI.
VisibleFailures = Callable[[Kata, Path, Sequence[str]], list[tuple[str, ...]]]


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
            planned = sum(int(phase["minutes"]) for phase in interview["phases"])
            yield Finding(
                kata.id,
                "interview.yaml phases",
                planned == kata.minutes,
                f"{planned} minutes planned for a {kata.minutes}-minute kata",
            )
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
    if kata.is_bug_hunt:
        yield from check_planted(kata)


def visible_test_names(kata: Kata) -> set[str]:
    names: set[str] = set()
    for path in sorted(kata.starter_dir.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return names


def check_planted(kata: Kata) -> Iterator[Finding]:
    """A bug hunt's bugs: each says what a user saw and why it is subtle, has a hint
    ladder, names visible tests that exist, and is fixed well within the diff budget."""
    try:
        bugs = load_mutants(kata)
    except KataError:
        return  # said by check_mutants
    assert kata.diff is not None
    model = kata.model_answer.read_text(encoding="utf-8")
    yield _starter_is_first_bug(kata, bugs[0])
    visible = visible_test_names(kata)
    for bug in bugs:
        missing = [f for f in ("symptom", "subtle", "shows_in", "hints") if not getattr(bug, f)]
        unknown = [t for t in bug.shows_in if t not in visible]
        problems = [f"no {', '.join(missing)}"] if missing else []
        if unknown:
            problems.append(f"shows_in names {', '.join(unknown)}, not in starter/test_visible.py")
        try:
            size = changed_lines(planted_source(kata, bug), model)
        except KataError as exc:
            problems.append(str(exc))
        else:
            if size > kata.diff.max_lines:
                problems.append(f"its fix changes {size} lines, over the diff budget")
        detail = "; ".join(problems) or "symptom, hints, visible tests and fix size in order"
        yield Finding(kata.id, f"planted bug {bug.name}", not problems, detail)


def _starter_is_first_bug(kata: Kata, first: Mutant) -> Finding:
    """A bug hunt's starter/solution.py is the model answer with its first planted bug:
    what a copy of starter/ gives; `drill start` plants the bug it draws instead."""
    starter = kata.starter_dir / "solution.py"
    try:
        same = starter.read_text(encoding="utf-8") == planted_source(kata, first)
    except (OSError, KataError):
        same = False
    detail = (
        f"the model answer with {first.name} planted"
        if same
        else f"not the model answer with its first planted bug ({first.name}): write it with "
        f"`python -m grader.mutants {kata.folder}`"
    )
    return Finding(kata.id, "starter/solution.py", same, detail)


def check_symptoms(kata: Kata, failures: VisibleFailures) -> Iterator[Finding]:
    """The visible tests pass on the model answer, and each planted bug fails the visible
    tests it names: the candidate sees the reported symptom with `drill test`."""
    bugs = load_mutants(kata)
    sources = [kata.model_answer.read_text(encoding="utf-8")]
    sources += [planted_source(kata, b) for b in bugs]
    with tempfile.TemporaryDirectory(prefix="drill-symptoms-") as tmp:
        folder = Path(tmp)
        for path in kata.starter_dir.glob("test_*.py"):
            shutil.copyfile(path, folder / path.name)
        failed = failures(kata, folder, sources)
    model_fails = failed[0]
    yield Finding(
        kata.id,
        "visible tests pass on the model answer",
        not model_fails,
        f"{', '.join(model_fails)} failed" if model_fails else "all pass",
    )
    for bug, fails in zip(bugs, failed[1:], strict=True):
        silent = [t for t in bug.shows_in if t not in fails]
        detail = (
            f"{', '.join(silent)} passed with the bug planted"
            if silent
            else f"fails {', '.join(bug.shows_in)}"
        )
        yield Finding(kata.id, f"planted bug {bug.name} shows", not silent, detail)


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
    ran = len(model.tests)
    yield Finding(kata.id, "hidden tests", ran >= MIN_TESTS, f"{ran} (at least {MIN_TESTS})")
    yield check_starter(kata, device)
    for mutant in load_mutants(kata):
        yield check_mutant(kata, mutant, device)


def check_starter(kata: Kata, device: str = "cpu") -> Finding:
    """The starter does not pass. A speed-up kata's starter is the slow original: it
    passes the hidden tests and earns no speed points."""
    path = kata.starter_dir / "solution.py"
    if kata.format != "speedup":
        starter = grade(kata, path, device=device, only={"tests"}, first_failure_stops=True)
        return Finding(
            kata.id, "starter does not pass", not starter.passed, caught_by(starter) or "it passed"
        )
    starter = grade(kata, path, device=device, only={"tests", "speed"})
    tests, speed = starter.checks["tests"], starter.checks["speed"]
    ok = tests.status == "pass" and speed.status == "fail" and speed.score == 0
    detail = f"tests {tests.status}; speed {speed.status}, {speed.score:g} points" + (
        f" ({speed.reason})" if speed.reason else ""
    )
    return Finding(kata.id, "the slow starter is correct and earns no speed points", ok, detail)


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
        # Caught is all we ask of the hidden tests here: their first failure is enough.
        report = grade(kata, solution, device=device, only=wanted, first_failure_stops=True)
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
    folder: Path,
    *,
    grades: bool = True,
    on_finding: Callable[[Finding], None] | None = None,
    visible: VisibleFailures | None = None,
) -> list[Finding]:
    """Every finding about the kata in `folder`; with `grades`, the grades too, and for a
    bug hunt, through `visible`, the symptoms its planted bugs show."""
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
        if kata.is_bug_hunt and visible is not None:
            for f in check_symptoms(kata, visible):
                add(f)
    return findings
