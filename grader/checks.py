"""The checks a grade can run: one list, which kata.yaml, the pipeline, the score and
every renderer read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckKind:
    name: str  # as kata.yaml weighs it and `--only` selects it
    title: str  # as reports show it
    measured: bool  # run by the measurement child, on the judge's clocks
    gated: bool  # scored only once every hidden test passes
    section: bool  # kata.yaml carries a section of the same name exactly when it weighs it


CHECKS = (
    CheckKind("tests", "hidden tests", measured=False, gated=False, section=False),
    CheckKind("types", "mypy --strict", measured=False, gated=False, section=False),
    CheckKind("memory", "peak memory", measured=True, gated=True, section=True),
    CheckKind("speed", "speed", measured=True, gated=True, section=True),
    CheckKind("integration", "inside the engine", measured=True, gated=True, section=True),
    # Bug hunts: how much of the given file the fix changed (a rewrite is not a fix).
    CheckKind("diff", "size of the fix", measured=False, gated=True, section=True),
)
NAMES = tuple(c.name for c in CHECKS)
TITLES = {c.name: c.title for c in CHECKS}
MEASURED = tuple(c.name for c in CHECKS if c.measured)
GATED = tuple(c.name for c in CHECKS if c.gated)
SECTIONED = tuple(c.name for c in CHECKS if c.section)
