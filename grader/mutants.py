"""Known-wrong variants of a kata's model answer, kept as patches in `mutants.yaml`.

Each mutant is one realistic bug: a name, the bug in one line, the checks that must
catch it, and a patch against `model_answer.py` in the unified-diff style (hunks opened
by `@@`, lines marked ` `, `-` or `+`). A hunk is found by its text, not by line
numbers: its context and removed lines must occur exactly once in the model answer.
Patches rather than copies keep a mutant honest: when the model answer changes under a
hunk, the hunk stops applying and `drill validate` says so, instead of silently testing
code the kata no longer has (docs/authoring.md).
"""

from __future__ import annotations

import ast
import difflib
import shutil
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from grader.checks import NAMES
from grader.errors import KataError
from grader.kata import Kata, read_yaml, validate_schema


@dataclass(frozen=True)
class Edit:
    find: str  # context and removed lines: must occur exactly once in the model answer
    replace: str  # context and added lines


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str
    caught_by: tuple[str, ...]  # checks that must fail, in the order of grader.checks
    edits: tuple[Edit, ...]  # one per hunk of its patch
    # A bug hunt's planted bug also carries what the candidate and the reviewer read:
    symptom: str = ""  # the failure as a user would report it
    subtle: str = ""  # why it survives a first reading (shown by `drill review`)
    shows_in: tuple[str, ...] = ()  # visible tests that fail with this bug
    hints: tuple[str, ...] = ()  # the hint ladder for this bug, nudge first


class StaleMutant(KataError):
    """An edit that no longer applies to the model answer: its `find` text is gone,
    appears more than once, or overlaps another edit's."""


def mutants_path(kata: Kata) -> Path:
    return kata.folder / "mutants.yaml"


def load_mutants(kata: Kata) -> list[Mutant]:
    """The kata's mutants, checked against their schema; none when the file is absent."""
    path = mutants_path(kata)
    if not path.is_file():
        return []
    data = validate_schema(path, read_yaml(path), "mutants.schema.json")
    mutants = [_mutant(entry) for entry in data["mutants"]]
    names = [m.name for m in mutants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise KataError(f"{path}: mutant names must be unique: {', '.join(twice)} repeated")
    return mutants


def _mutant(entry: dict[str, Any]) -> Mutant:
    name = str(entry["name"])
    return Mutant(
        name=name,
        bug=str(entry["bug"]),
        caught_by=tuple(c for c in NAMES if c in entry["caught_by"]),
        edits=parse_patch(name, str(entry["patch"])),
        symptom=str(entry.get("symptom", "")),
        subtle=str(entry.get("subtle", "")),
        shows_in=tuple(entry.get("shows_in", ())),
        hints=tuple(entry.get("hints", ())),
    )


def parse_patch(name: str, patch: str) -> tuple[Edit, ...]:
    """Each `@@` hunk as the text it finds and the text it puts in its place.

    A line without a marker counts as an empty context line: editors strip the lone
    space `diff -u` writes for one."""
    hunks: list[tuple[list[str], list[str]]] = []
    for number, line in enumerate(patch.splitlines(), start=1):
        if line.startswith("@@"):
            hunks.append(([], []))
            continue
        find, replace = hunks[-1]  # the schema makes the patch open with a hunk
        marker, text = line[:1], line[1:] + "\n"
        if marker in (" ", ""):
            find.append(text)
            replace.append(text)
        elif marker == "-":
            find.append(text)
        elif marker == "+":
            replace.append(text)
        else:
            raise KataError(
                f"mutant {name}: patch line {number} starts with {marker!r}; every line "
                "of a hunk starts with ' ', '-' or '+'"
            )
    edits = []
    for number, (find, replace) in enumerate(hunks, start=1):
        if find == replace:
            raise KataError(f"mutant {name}: hunk {number} of its patch changes nothing")
        if not find:
            raise KataError(
                f"mutant {name}: hunk {number} has no context or removed line to find it by"
            )
        edits.append(Edit("".join(find), "".join(replace)))
    return tuple(edits)


def apply(mutant: Mutant, source: str) -> str:
    """The model answer's source with the mutant's hunks applied.

    Every hunk is located in the unedited source, so hunks neither depend on their
    order nor match text another hunk wrote."""
    spans: list[tuple[int, int, str]] = []
    for number, edit in enumerate(mutant.edits, start=1):
        count = source.count(edit.find)
        if count != 1:
            where = "are not in" if count == 0 else f"appear {count} times in"
            raise StaleMutant(
                f"mutant {mutant.name}: hunk {number} no longer applies: its context and "
                f"removed lines {where} model_answer.py"
            )
        start = source.index(edit.find)
        spans.append((start, start + len(edit.find), edit.replace))
    spans.sort()
    for (_, end, _), (start, _, _) in pairwise(spans):
        if start < end:
            raise StaleMutant(f"mutant {mutant.name}: two of its hunks overlap")
    pieces: list[str] = []
    cursor = 0
    for start, end, replace in spans:
        pieces += [source[cursor:start], replace]
        cursor = end
    return "".join([*pieces, source[cursor:]])


def patch_of(mutant: Mutant) -> str:
    """The mutant's edits as a reader's diff: what the correct code had (-), what the
    planted code has (+), hunk by hunk."""
    hunks = []
    for edit in mutant.edits:
        removed = edit.find.splitlines()
        added = edit.replace.splitlines()
        matcher = difflib.SequenceMatcher(None, removed, added, autojunk=False)
        lines = ["@@"]
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                lines += [f" {line}" for line in removed[i1:i2]]
            else:
                lines += [f"-{line}" for line in removed[i1:i2]]
                lines += [f"+{line}" for line in added[j1:j2]]
        hunks.append("\n".join(lines))
    return "\n".join(hunks) + "\n"


def mutated_source(kata: Kata, mutant: Mutant) -> str:
    """The mutant as a solution file, its first line naming the bug."""
    return f"# BUG: {mutant.bug}\n{planted_source(kata, mutant)}"


def planted_source(kata: Kata, mutant: Mutant) -> str:
    """The model answer with the mutant's bug in it, checked to parse and to differ from
    the answer: a bug hunt hands exactly this file to the candidate."""
    model = kata.model_answer.read_text(encoding="utf-8")
    source = apply(mutant, model)
    if source == model:
        raise StaleMutant(f"mutant {mutant.name}: its patch changes nothing")
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise StaleMutant(
            f"mutant {mutant.name}: the edited answer does not parse (line {exc.lineno}: {exc.msg})"
        ) from exc
    return source


def write_mutant(kata: Kata, mutant: Mutant, folder: Path) -> Path:
    """The mutant as `folder/solution.py`, ready to grade."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "solution.py"
    path.write_text(mutated_source(kata, mutant), encoding="utf-8")
    return path


def write_patched(kata: Kata, patch: Path, folder: Path) -> Path:
    """Another answer kept as a patch against the model answer (the mutants' format):
    `folder/solution.py`, beside copies of what lies next to the patch (a native
    answer's native/ sources), ready to grade."""
    edits = parse_patch(patch.parent.name, patch.read_text(encoding="utf-8"))
    answer = Mutant(patch.parent.name, "another answer", (), edits)
    folder.mkdir(parents=True, exist_ok=True)
    for item in patch.parent.iterdir():
        if item.is_dir():
            shutil.copytree(item, folder / item.name)
        elif item != patch:
            shutil.copyfile(item, folder / item.name)
    path = folder / "solution.py"
    path.write_text(apply(answer, kata.model_answer.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def mutant_named(kata: Kata, name: str) -> Mutant:
    for mutant in load_mutants(kata):
        if mutant.name == name:
            return mutant
    raise KataError(f"{mutants_path(kata)}: no mutant named {name}")


def write_starter(kata: Kata) -> Path:
    """A bug hunt's starter/solution.py: the model answer with its first planted bug."""
    path = kata.starter_dir / "solution.py"
    path.write_text(planted_source(kata, load_mutants(kata)[0]), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m grader.mutants KATA_FOLDER
    import sys

    from grader.kata import load_kata_from

    print(write_starter(load_kata_from(Path(sys.argv[1]))))
