"""Every built-in kata is sound: the authoring check of `drill validate`, as tests.

The model answer scores 100, the starter does not pass, and each known-wrong variant in
`mutants.yaml` (one realistic bug each) is caught by the checks it names. A bug hunt's
starters are its planted bugs: each is caught, and each fails the visible tests it names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from drills.visible import failing_tests
from grader import native
from grader.kata import all_katas, load_kata_from
from grader.mutants import Mutant, load_mutants, planted_source, write_patched
from grader.paths import BUILTIN_KATAS
from grader.pipeline import grade
from grader.validate import (
    MIN_TESTS,
    check_mutant,
    check_starter,
    check_structure,
    check_symptoms,
)

KATAS = sorted(p.parent for p in BUILTIN_KATAS.glob("*/kata.yaml"))
HUNTS = [k for k in KATAS if load_kata_from(k).is_bug_hunt]
MUTANTS = [(k, m) for k in KATAS for m in load_mutants(load_kata_from(k))]
# Katas that allow native code keep a second answer with C: native_answer/solution.patch
# against the model answer, and its native/ sources beside it.
NATIVE = [k for k in KATAS if (k / "native_answer" / "solution.patch").is_file()]


def test_every_kata_loads_and_the_ids_are_unique() -> None:
    katas = all_katas(BUILTIN_KATAS)
    assert len({k.id for k in katas}) == len(katas) == len(KATAS)


@pytest.mark.parametrize("folder", KATAS, ids=lambda p: p.name)
def test_kata_is_well_formed(folder: Path) -> None:
    problems = [
        f"{f.item}: {f.detail}" for f in check_structure(load_kata_from(folder)) if not f.ok
    ]
    assert not problems


@pytest.mark.slow
@pytest.mark.parametrize("folder", KATAS, ids=lambda p: p.name)
def test_model_answer_scores_100(folder: Path) -> None:
    kata = load_kata_from(folder)
    report = grade(kata, kata.model_answer, device="cpu")
    problems = {n: c.reason for n, c in report.checks.items() if c.status != "pass"}
    assert report.passed and report.score == pytest.approx(100.0), problems
    assert len(report.tests) >= MIN_TESTS


@pytest.mark.slow
@pytest.mark.parametrize("folder", KATAS, ids=lambda p: p.name)
def test_starter_does_not_pass(folder: Path) -> None:
    finding = check_starter(load_kata_from(folder))
    assert finding.ok, finding.detail


@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder", "mutant"), MUTANTS, ids=[f"{k.name}-{m.name}" for k, m in MUTANTS]
)
def test_mutant_is_caught_by_the_checks_it_names(folder: Path, mutant: Mutant) -> None:
    finding = check_mutant(load_kata_from(folder), mutant, device="cpu")
    assert finding.ok, finding.detail


@pytest.mark.slow
@pytest.mark.parametrize("folder", HUNTS, ids=lambda p: p.name)
def test_each_planted_bug_fails_the_visible_tests_it_names(folder: Path) -> None:
    findings = check_symptoms(load_kata_from(folder), failing_tests)
    problems = [f"{f.item}: {f.detail}" for f in findings if not f.ok]
    assert not problems


@pytest.mark.slow
@pytest.mark.skipif(native.toolchain() is None, reason="no C compiler on this machine")
@pytest.mark.parametrize("folder", NATIVE, ids=lambda p: p.name)
def test_the_native_answer_builds_and_scores_100(folder: Path, tmp_path: Path) -> None:
    kata = load_kata_from(folder)
    assert kata.native
    solution = write_patched(kata, folder / "native_answer" / "solution.patch", tmp_path / "ws")
    report = grade(kata, solution, device="cpu")
    problems = {n: c.reason for n, c in report.checks.items() if c.status != "pass"}
    assert report.passed and report.score == pytest.approx(100.0), problems


@pytest.mark.slow
@pytest.mark.parametrize("folder", HUNTS, ids=lambda p: p.name)
def test_a_rewrite_of_the_file_that_passes_the_tests_is_not_a_fix(
    folder: Path, tmp_path: Path
) -> None:
    kata = load_kata_from(folder)
    rewrite = tmp_path / "solution.py"  # the same code, every line laid out anew
    rewrite.write_text(ast.unparse(ast.parse(kata.model_answer.read_text())))
    report = grade(kata, rewrite, device="cpu", only={"tests", "diff"})
    assert report.checks["tests"].status == "pass", report.checks["tests"].reason
    diff = report.checks["diff"]
    assert diff.status == "fail" and "a rewrite is not a fix" in diff.reason, diff.reason


@pytest.mark.parametrize("folder", HUNTS, ids=lambda p: p.name)
def test_no_planted_bug_shows_itself_to_a_linter_or_formatter(folder: Path, tmp_path: Path) -> None:
    kata = load_kata_from(folder)
    for bug in load_mutants(kata):  # an unused variable or import would point at the line
        (tmp_path / f"{bug.name}.py").write_text(planted_source(kata, bug))
    linted = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "F",
         "--output-format", "concise", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert linted.returncode == 0, linted.stdout
    config = Path(__file__).resolve().parent.parent / "pyproject.toml"  # the kata files' layout
    laid_out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--no-cache", "--check", "--config", str(config),
         str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert laid_out.returncode == 0, laid_out.stdout  # a reformatted line points at it too
