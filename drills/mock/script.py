"""The interviewer's script: a kata's `interview.yaml`, checked against its schema, as data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from grader.kata import Kata, read_yaml, validate_schema
from grader.mutants import mutant_named, patch_of

# The rubric's dimensions, in the order they are shown and scored.
DIMENSIONS = ("correctness", "code_quality", "complexity", "testing")
SCORES = (1, 2, 3, 4)


@dataclass(frozen=True)
class Phase:
    name: str
    minutes: float


@dataclass(frozen=True)
class Clarification:
    question: str
    answer: str


@dataclass(frozen=True)
class Dimension:
    key: str  # "correctness"
    title: str  # "Correctness and edge cases"
    anchors: dict[int, str]  # what a 1, 2, 3 and 4 look like


@dataclass(frozen=True)
class PlantedBug:
    """A bug hunt's drawn bug, as the interviewer sees it (never the candidate)."""

    name: str
    bug: str  # the bug in one line
    symptom: str  # read out as the user's report
    subtle: str  # why it survives a first reading
    patch: str  # the planted change, as a diff against the correct file


@dataclass(frozen=True)
class Script:
    phases: tuple[Phase, ...]
    clarifications: tuple[Clarification, ...]
    hints: tuple[str, ...]
    follow_ups: tuple[str, ...]
    rubric: tuple[Dimension, ...]
    common_mistakes: tuple[str, ...]
    bug: PlantedBug | None = None  # a bug hunt's planted bug; `hints` are then its own
    nudges: tuple[str, ...] = ()  # a bug hunt's hints on method, free to say aloud

    def phase_start_s(self, index: int) -> float:
        """When phase `index` is planned to begin, in seconds from the start."""
        return 60.0 * sum(p.minutes for p in self.phases[:index])

    def planned_phase(self, elapsed_s: float) -> int:
        """The phase the plan says we are in at `elapsed_s` (the last one once it is over)."""
        for i in range(len(self.phases)):
            if elapsed_s < self.phase_start_s(i + 1):
                return i
        return len(self.phases) - 1

    def fitted(self, limit_s: float | None) -> Script:
        """The phases stretched or shrunk in proportion to fill the session's limit: a
        45-minute interview of a kata planned for 30 plans 45 minutes, not 30."""
        planned = sum(p.minutes for p in self.phases)
        if not limit_s or planned <= 0:
            return self
        scale = limit_s / 60.0 / planned
        phases = tuple(Phase(p.name, round(p.minutes * scale, 1)) for p in self.phases)
        return dataclasses.replace(self, phases=phases)

    def dimension(self, key: str) -> Dimension:
        for d in self.rubric:
            if d.key == key:
                return d
        raise KeyError(key)


def load_script(kata: Kata, variant: str | None = None) -> Script:
    """The kata's interview script; a `KataError` naming the field if it breaks the schema.

    A bug hunt given `variant` (its planted bug) gets the bug, and that bug's own hint
    ladder: the script's hints, on how to hunt, become nudges said for free."""
    script = _read_script(kata)
    if not (kata.is_bug_hunt and variant is not None):
        return script
    planted = mutant_named(kata, variant)
    bug = PlantedBug(planted.name, planted.bug, planted.symptom, planted.subtle, patch_of(planted))
    return dataclasses.replace(script, bug=bug, hints=planted.hints, nudges=script.hints)


def _read_script(kata: Kata) -> Script:
    path = kata.interview_path
    data = validate_schema(path, read_yaml(path), "interview.schema.json")
    rubric = data["rubric"]
    return Script(
        phases=tuple(Phase(str(p["name"]), float(p["minutes"])) for p in data["phases"]),
        clarifications=tuple(
            Clarification(str(c["question"]), str(c["answer"])) for c in data["clarifications"]
        ),
        hints=tuple(str(h) for h in data["hints"]),
        follow_ups=tuple(str(f) for f in data["follow_ups"]),
        rubric=tuple(
            Dimension(
                key,
                str(rubric[key]["title"]),
                {n: str(rubric[key]["anchors"][str(n)]) for n in SCORES},
            )
            for key in DIMENSIONS
        ),
        common_mistakes=tuple(str(m) for m in data["common_mistakes"]),
    )
