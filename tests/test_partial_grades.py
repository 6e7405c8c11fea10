"""Grades that are not whole say so: `--only` is partial, a check that cannot run is an
error with a reason (never points), and `--device cuda` without CUDA is bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.history import History
from grader.kata import Kata
from grader.pipeline import grade
from grader.render.common import headline
from grader.report import Check, Report, Status
from tests.test_cli import drill, one_line_error


@pytest.fixture
def workspace(toy_katas_dir: Path, toy_kata: Kata, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    assert drill("start", "top-k-indices", "--dir", str(ws)).returncode == 0
    shutil.copyfile(toy_kata.model_answer, ws / "solution.py")
    return ws


def test_only_tests_is_a_partial_grade_kept_out_of_history(workspace: Path) -> None:
    as_json = drill("grade", "--only", "tests", "--format", "json", cwd=workspace)
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["partial"] == ["tests"] and list(report["checks"]) == ["tests"]
    shown = drill("grade", "--only", "tests", cwd=workspace)
    assert "partial: tests (every check that ran passed)" in shown.stdout
    assert "PASSED" not in shown.stdout and "/100" not in shown.stdout
    assert "not kept in `drill history`" in shown.stderr
    assert History().rows() == []
    whole = drill("grade", "--format", "json", cwd=workspace)
    assert "partial" not in json.loads(whole.stdout) and len(History().rows()) == 1


def test_a_partial_grade_of_a_failing_check_is_not_passed(workspace: Path) -> None:
    (workspace / "solution.py").write_text(
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n    return []\n"
    )
    result = drill("grade", "--only", "tests", cwd=workspace)
    assert result.returncode == 1
    assert "partial: tests (not every check that ran passed)" in result.stdout


@pytest.mark.parametrize(
    ("statuses", "said"),
    [
        ({"speed": "unmeasured"}, "partial: speed (speed could not be measured)"),
        (
            {"tests": "pass", "speed": "unmeasured"},
            "partial: tests, speed (speed could not be measured; every other check that ran"
            " passed)",
        ),
        ({"tests": "pass", "speed": "pass"}, "partial: tests, speed (every check that ran passed)"),
    ],
)
def test_a_partial_grade_says_which_checks_could_not_be_measured(
    statuses: dict[str, Status], said: str
) -> None:
    report = Report(
        kata="kv-cache",
        score=0.0,
        passed=True,
        elapsed_s=None,
        limit_s=None,
        hints_taken=0,
        checks={name: Check(name, status) for name, status in statuses.items()},
        pass_mark=80,
        partial=list(statuses),
    )
    assert headline(report) == said


def test_a_file_that_does_not_parse_earns_no_types_points(toy_kata: Kata, tmp_path: Path) -> None:
    path = tmp_path / "solution.py"
    path.write_text("def top_k_indices(xs: list[float], k: int) -> list[int]\n    return []\n")
    report = grade(toy_kata, path, device="cpu", only={"tests", "types"})
    types = report.checks["types"]
    assert types.status == "error" and types.score == 0
    assert "does not parse" in types.reason and "line 1" in types.reason


def test_an_empty_file_earns_no_types_points(toy_kata: Kata, tmp_path: Path) -> None:
    path = tmp_path / "solution.py"
    path.write_text("")
    report = grade(toy_kata, path, device="cpu")
    assert report.checks["types"].status == "error" and report.score == 0
    assert "nothing to type-check" in report.checks["types"].reason


def test_device_cuda_without_cuda_is_bad_input(workspace: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = drill("grade", "--device", "cuda", cwd=workspace)
    assert result.returncode == 2
    assert "CUDA is not available" in one_line_error(result)


def _overdue(workspace: Path, hours: float) -> None:
    """Move the session's start back, as if the candidate had taken `hours` more."""
    from datetime import datetime, timedelta

    path = workspace / ".drill" / "session.json"
    session = json.loads(path.read_text())
    started = datetime.fromisoformat(session["started_at"]) - timedelta(hours=hours)
    session["started_at"] = started.isoformat(timespec="seconds")
    path.write_text(json.dumps(session))


def test_overtime_is_shown_and_fails_only_under_strict_time(workspace: Path) -> None:
    _overdue(workspace, hours=2)
    lenient = drill("grade", "--format", "json", cwd=workspace)
    report = json.loads(lenient.stdout)
    assert lenient.returncode == 0 and report["passed"] is True
    assert report["overtime_s"] > 3600 and report["strict_time"] is False
    assert "over" in drill("history", cwd=workspace).stdout
    strict = drill("grade", "--strict-time", cwd=workspace)
    assert strict.returncode == 1
    assert "NOT PASSED (over time by" in strict.stdout and "--strict-time" in strict.stdout


@pytest.mark.parametrize("only", ["integration", ",", "", "diff"])
def test_only_a_check_the_kata_lacks_is_bad_input_and_not_kept(workspace: Path, only: str) -> None:
    result = drill("grade", "--only", only, cwd=workspace)
    assert result.returncode == 2
    assert "--only:" in one_line_error(result)
    assert History().rows() == []


def test_only_speed_reports_the_measurement_without_the_tests(
    toy_kata: Kata, tmp_path: Path
) -> None:
    path = tmp_path / "solution.py"
    shutil.copyfile(toy_kata.model_answer, path)
    report = grade(toy_kata, path, device="cpu", only={"speed"})
    assert report.partial == ["speed"] and list(report.checks) == ["speed"]
    assert report.checks["speed"].status in ("pass", "unmeasured")
    assert report.passed
