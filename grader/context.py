"""What every stage receives: the kata, a private copy of the solution, and options."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from grader.kata import Kata
from grader.native import ENV as NATIVE_ENV
from grader.native import Build
from grader.sandbox import PASS_ENV, Limits, ZygoteProcess
from grader.stages.static import SourceFacts, inspect_source

# What a worker's environment holds besides PASS_ENV (HOME and TMPDIR are its own).
WORKER_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
}


@dataclass(frozen=True)
class GradeContext:
    kata: Kata
    workdir: Path  # private temporary directory of this grade
    solution_dir: Path  # holds the private copy `solution.py`, importable as `solution`
    device: str  # "auto", "cpu" or "cuda"
    zygote: ZygoteProcess  # forks the workers that run the solution (and the reference)
    native: Build | None = None  # the candidate's C sources, built (katas with native code)
    # Stop the hidden suite at its first failing test: enough to know that a known-wrong
    # variant is caught (`drill validate`), never how a candidate's grade is counted.
    first_failure_stops: bool = False

    @property
    def solution(self) -> Path:
        return self.solution_dir / "solution.py"

    @cached_property
    def facts(self) -> SourceFacts:
        """What the source shows without running it: read once a grade, asked by each stage
        (the private copy does not change during a grade)."""
        return inspect_source(self.solution)

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
        )

    def judge_config(self, stage: str, wall_s: float) -> dict[str, Any]:
        """What a judge process needs to start workers for this grade."""
        from grader.paths import reference_dir

        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        if self.native is not None and self.native.library is not None:
            env[NATIVE_ENV] = str(self.native.library)
        return {
            "solution_dir": str(self.solution_dir),
            "hidden_dir": str(self.kata.hidden_dir),
            "workers_dir": str(self.stage_dir(f"{stage}-workers")),
            "limits": self.limits(wall_s).for_worker(),
            "network": self.kata.network,
            "env": {**env, **WORKER_ENV},
            "reference": self.kata.reference,
            "starter_dir": str(self.kata.starter_dir),
            "reference_read": [str(reference_dir())],
        }
