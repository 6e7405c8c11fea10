"""The checks a grade can run: one list, which kata.yaml, the pipeline, the score and
every renderer read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckKind:
    name: str  # as kata.yaml weighs it and `--only` selects it
    title: str  # as reports show it
    measured: bool  # scored only once every hidden test passes


CHECKS = (
    CheckKind("tests", "hidden tests", measured=False),
    CheckKind("types", "mypy --strict", measured=False),
    CheckKind("memory", "peak memory", measured=True),
    CheckKind("speed", "speed", measured=True),
    CheckKind("integration", "inside the engine", measured=True),
)
NAMES = tuple(c.name for c in CHECKS)
TITLES = {c.name: c.title for c in CHECKS}
MEASURED = tuple(c.name for c in CHECKS if c.measured)
