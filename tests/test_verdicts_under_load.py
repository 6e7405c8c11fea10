"""The same code gets the same verdict on a busy machine.

The kv-cache model answer and its `cat_into_buffer` mutant (right answers, a copy of the
cache on every append: only memory and speed can tell) are graded again and again, two
grades at a time, beside a process that keeps a core busy. Every grade of the model
answer passes memory and speed (or says it could not measure, which costs nothing); every
grade of the mutant fails both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.kata import load_kata_from
from grader.mutants import mutant_named, mutated_source
from grader.paths import BUILTIN_KATAS

KATA = load_kata_from(BUILTIN_KATAS / "kv-cache")
MODEL = KATA.model_answer.read_text(encoding="utf-8")
CAT = mutated_source(KATA, mutant_named(KATA, "cat_into_buffer"))
ROUNDS = 2


def drill(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drills", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_memory_and_speed_verdicts_hold_beside_other_grades_and_a_busy_core(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "DRILL_NO_WARM": "1"}
    env.pop("DRILL_KATAS", None)
    root = tmp_path / "class"
    for name, source in (
        ("model-a", MODEL),
        ("model-b", MODEL),
        ("cat-a", CAT),
        ("cat-b", CAT),
    ):
        assert drill("start", "kv-cache", "--dir", str(root / name), env=env).returncode == 0
        (root / name / "solution.py").write_text(source, encoding="utf-8")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        reports = []
        for _ in range(ROUNDS):
            done = drill(
                "grade", "--batch", str(root), "--workers", "2", "--only", "tests,memory,speed",
                "--format", "json", env=env,
            )  # fmt: skip
            reports += [json.loads(line) for line in done.stdout.splitlines()]
    finally:
        hog.kill()
        hog.wait()
    assert len(reports) == 4 * ROUNDS
    for report in reports:
        name = Path(report["workspace"]).name
        memory, speed = report["checks"]["memory"], report["checks"]["speed"]
        if name.startswith("model"):
            assert memory["status"] == "pass", (name, memory)
            assert speed["status"] in ("pass", "unmeasured"), (name, speed)
        else:
            assert memory["status"] == "fail", (name, memory)
            assert speed["status"] == "fail" and "grows" in speed["reason"], (name, speed)
