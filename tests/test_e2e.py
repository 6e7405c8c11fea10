"""The path a candidate walks, through the installed `drill` executable.

start -> test -> grade on the model answer (100, exit 0) and on the untouched starter
(not passed, exit 1), then history lists both grades.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.paths import BUILTIN_KATAS

KATA = "sampling"


def drill_executable() -> str:
    found = shutil.which("drill", path=str(Path(sys.executable).parent)) or shutil.which("drill")
    if found is None:
        pytest.fail("the `drill` console script is not installed (pip install -e .)")
    return found


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [drill_executable(), *args],
        cwd=cwd,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_start_test_grade_on_the_model_answer_and_on_the_starter(tmp_path: Path) -> None:
    started = run("start", KATA, "--timed", "30m", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "deadline" in started.stdout
    ws = tmp_path / KATA
    assert {"solution.py", "test_visible.py", "PROMPT.md"} <= {p.name for p in ws.iterdir()}

    starter_grade = run("grade", "--format", "json", cwd=ws)
    assert starter_grade.returncode == 1, starter_grade.stderr
    report = json.loads(starter_grade.stdout)
    assert report["passed"] is False
    assert report["checks"]["tests"]["status"] == "fail"

    shutil.copyfile(BUILTIN_KATAS / KATA / "model_answer.py", ws / "solution.py")
    visible = run("test", cwd=ws)
    assert visible.returncode == 0, visible.stdout + visible.stderr

    model_grade = run("grade", "--format", "json", cwd=ws)
    assert model_grade.returncode == 0, model_grade.stdout + model_grade.stderr
    report = json.loads(model_grade.stdout)
    assert report["passed"] is True
    assert report["score"] == 100.0
    assert set(report["checks"]) >= {"tests", "types", "memory", "speed"}
    assert report["schema"] == 1 and report["kata"] == KATA and report["limit_s"] == 1800.0

    history = run("history", "--format", "json", cwd=ws)
    rows = json.loads(history.stdout)
    assert [r["score"] for r in rows][:2] == [100.0, report_score(starter_grade)]


def report_score(result: subprocess.CompletedProcess[str]) -> float:
    return float(json.loads(result.stdout)["score"])
