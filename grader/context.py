"""What every stage receives: the kata, a private copy of the solution, and options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.kata import Kata
from grader.landlock import gpu_present
from grader.sandbox import Limits


@dataclass(frozen=True)
class GradeContext:
    kata: Kata
    workdir: Path  # private temporary directory of this grade
    solution_dir: Path  # holds the private copy `solution.py`, importable as `solution`
    device: str  # "auto", "cpu" or "cuda"

    @property
    def solution(self) -> Path:
        return self.solution_dir / "solution.py"

    def stage_dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(exist_ok=True)
        return path

    def limits(self, wall_s: float) -> Limits:
        kata = self.kata
        return Limits(
            cpu_s=int(wall_s) + 30,
            memory_mb=kata.memory_limit_mb,
            processes=kata.process_limit,
            network=kata.network,
            gpu=self.device == "cuda" or (self.device == "auto" and gpu_present()),
        )
