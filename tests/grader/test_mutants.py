"""Mutants as patches: how a hunk is read, found and applied, and what `drill validate`
says when one no longer fits the model answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.errors import KataError
from grader.kata import Kata, load_kata_from
from grader.mutants import (
    Edit,
    Mutant,
    StaleMutant,
    apply,
    load_mutants,
    mutated_source,
    parse_patch,
)
from grader.validate import check_mutant, check_structure

SOURCE = "def f(x):\n    y = x + 1\n\n    return y\n\n\ndef g(x):\n    return x\n"


def mutant(*edits: Edit, name: str = "m") -> Mutant:
    return Mutant(name, "a bug for the test", ("tests",), edits)


def test_a_hunk_finds_its_context_and_removed_lines_and_puts_context_and_added_ones() -> None:
    (edit,) = parse_patch("m", "@@ -1,3 +1,3 @@\n def f(x):\n-    y = x + 1\n+    y = x - 1\n")
    assert edit == Edit("def f(x):\n    y = x + 1\n", "def f(x):\n    y = x - 1\n")


def test_an_unmarked_empty_line_is_empty_context() -> None:
    (edit,) = parse_patch("m", "@@\n-    y = x + 1\n\n     return y\n")
    assert edit == Edit("    y = x + 1\n\n    return y\n", "\n    return y\n")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("@@\n*    y = x + 1\n", r"patch line 2 starts with '\*'"),
        ("@@\n     y = x + 1\n", "hunk 1 of its patch changes nothing"),
        ("@@\n+    z = 0\n", "hunk 1 has no context or removed line"),
    ],
)
def test_a_malformed_hunk_is_refused_with_its_line(patch: str, message: str) -> None:
    with pytest.raises(KataError, match=message):
        parse_patch("m", patch)


def test_hunks_apply_to_the_unedited_source_in_any_order() -> None:
    first = Edit("    y = x + 1\n", "    y = x + 2\n")
    second = Edit("def g(x):\n", "def g(x):  # changed\n")
    expected = SOURCE.replace("x + 1", "x + 2").replace("g(x):", "g(x):  # changed")
    assert apply(mutant(first, second), SOURCE) == expected
    assert apply(mutant(second, first), SOURCE) == expected


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ((Edit("    y = x * 2\n", ""),), "hunk 1 no longer applies: .* are not in"),
        ((Edit("def f(x):\n", ""), Edit("(x):\n", "")), "hunk 2 .* appear 2 times in"),
        ((Edit("def f(x):\n    y", "a"), Edit("y = x + 1\n", "b")), "two of its hunks overlap"),
    ],
)
def test_a_hunk_that_does_not_fit_the_source_is_stale(
    edits: tuple[Edit, ...], message: str
) -> None:
    with pytest.raises(StaleMutant, match=message):
        apply(mutant(*edits), SOURCE)


@pytest.fixture
def kata_copy(tmp_path: Path, toy_kata: Kata) -> Path:
    folder = tmp_path / "top-k-indices"
    shutil.copytree(toy_kata.folder, folder)
    return folder


def write_mutants(folder: Path, text: str) -> Kata:
    (folder / "mutants.yaml").write_text(text)
    return load_kata_from(folder)


ONE = """mutants:
- name: off_by_one
  bug: returns k - 1 indices
  caught_by: [tests]
  patch: |
    @@
    -    return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))
    +    return heapq.nsmallest(k - 1, range(len(xs)), key=lambda i: (-xs[i], i))
"""


def test_the_mutant_is_the_model_answer_with_the_bug_named_on_top(kata_copy: Path) -> None:
    kata = write_mutants(kata_copy, ONE)
    (m,) = load_mutants(kata)
    source = mutated_source(kata, m)
    model = kata.model_answer.read_text()
    assert source == "# BUG: returns k - 1 indices\n" + model.replace(
        "nsmallest(k,", "nsmallest(k - 1,"
    )


def test_validate_names_the_hunk_a_changed_model_answer_left_behind(kata_copy: Path) -> None:
    kata = write_mutants(kata_copy, ONE)
    model = kata.model_answer.read_text()
    kata.model_answer.write_text(model.replace("range(len(xs))", "range(len(xs) )"))
    bad = [f for f in check_structure(kata) if not f.ok and f.item != "mutants"]  # just 1
    assert [(f.item, f.detail) for f in bad] == [
        (
            "mutant off_by_one",
            "mutant off_by_one: hunk 1 no longer applies: its context and removed lines "
            "are not in model_answer.py",
        )
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ONE.replace("name: off_by_one", "name: Off-By-One"), "field `mutants.0.name`"),
        (ONE.replace("caught_by: [tests]", "caught_by: [vibes]"), "field `mutants.0.caught_by.0`"),
        (ONE.replace("    @@\n", ""), "field `mutants.0.patch`"),
        (ONE + ONE.removeprefix("mutants:\n"), "off_by_one repeated"),
    ],
)
def test_a_mutants_file_against_its_schema(kata_copy: Path, text: str, message: str) -> None:
    kata = write_mutants(kata_copy, text)
    with pytest.raises(KataError, match=message):
        load_mutants(kata)


def test_a_mutant_naming_a_check_the_kata_does_not_grade_is_refused(kata_copy: Path) -> None:
    kata = write_mutants(kata_copy, ONE.replace("[tests]", "[integration]"))
    details = [f.detail for f in check_structure(kata) if not f.ok and f.item != "mutants"]
    assert details == ["caught_by names integration, which this kata does not grade"]


def test_a_mutant_the_named_check_does_not_catch_fails_validation(kata_copy: Path) -> None:
    # Off by one is a wrong answer, but a well-typed one: mypy cannot catch it.
    kata = write_mutants(kata_copy, ONE.replace("[tests]", "[tests, types]"))
    (m,) = load_mutants(kata)
    finding = check_mutant(kata, m)
    assert not finding.ok
    assert finding.detail.startswith("NOT caught by types (pass")
    assert finding.detail.endswith(": returns k - 1 indices")


def test_a_mutant_its_check_catches_passes_validation(kata_copy: Path) -> None:
    kata = write_mutants(kata_copy, ONE)
    (m,) = load_mutants(kata)
    finding = check_mutant(kata, m)
    assert finding.ok and finding.detail == "caught by tests"


def test_a_mutant_that_does_not_parse_is_refused(kata_copy: Path) -> None:
    kata = write_mutants(kata_copy, ONE.replace("nsmallest(k - 1,", "nsmallest(k - ,"))
    (m,) = load_mutants(kata)
    with pytest.raises(StaleMutant, match=r"the edited answer does not parse \(line 7"):
        mutated_source(kata, m)
