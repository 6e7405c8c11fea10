"""The grade on a small torch-free kata: verdicts and reasons for good and broken solutions."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from grader import pipeline
from grader.kata import Kata
from grader.pipeline import grade
from grader.report import Report
from grader.stages.tests import _timed_out


def grade_source(kata: Kata, tmp_path: Path, source: str, **kwargs: object) -> Report:
    path = tmp_path / "solution.py"
    path.write_text(source)
    return grade(kata, path, device="cpu", **kwargs)  # type: ignore[arg-type]


def test_the_model_answer_scores_100(toy_kata: Kata) -> None:
    report = grade(toy_kata, toy_kata.model_answer, device="cpu")
    assert report.passed, report.dumps()
    assert report.score == pytest.approx(100.0)
    statuses = {n: c.status for n, c in report.checks.items()}
    # A machine too busy to time it leaves speed unmeasured, which costs nothing.
    assert statuses.pop("speed") in ("pass", "unmeasured")
    assert statuses == {"tests": "pass", "types": "pass", "memory": "pass"}
    assert report.checks["tests"].details["total"] == 7


def test_the_starter_does_not_pass_and_says_why(toy_kata: Kata) -> None:
    report = grade(toy_kata, toy_kata.starter_dir / "solution.py", device="cpu")
    assert not report.passed
    tests = report.checks["tests"]
    assert tests.status == "fail"
    assert "NotImplementedError" in tests.reason
    assert report.checks["speed"].status == "skip"
    assert "correctness first" in report.checks["speed"].reason


def test_a_syntax_error_is_a_grade_with_the_line(toy_kata: Kata, tmp_path: Path) -> None:
    report = grade_source(toy_kata, tmp_path, "def top_k_indices(xs, k)\n    return []\n")
    assert not report.passed
    assert report.checks["tests"].status == "error"
    assert "solution.py line 1" in report.checks["tests"].reason
    assert report.checks["memory"].status == "skip"


def test_a_missing_function_is_named(toy_kata: Kata, tmp_path: Path) -> None:
    report = grade_source(
        toy_kata,
        tmp_path,
        "def top_k(xs: list[float], k: int) -> list[int]:\n    return []\n",
        only={"tests"},
    )
    assert "does not define top_k_indices" in report.checks["tests"].reason


def test_exiting_at_import_with_status_zero_is_not_a_pass(toy_kata: Kata, tmp_path: Path) -> None:
    report = grade_source(toy_kata, tmp_path, "import os\nos._exit(0)\n", only={"tests"})
    assert not report.passed
    assert report.checks["tests"].details["passed"] == 0
    assert (
        "importing solution.py: the solution's process exited with status 0"
        in report.checks["tests"].reason
    )


def test_an_import_error_is_shown_whole_brackets_included(toy_kata: Kata, tmp_path: Path) -> None:
    source = "raise PermissionError(13, 'Permission denied', '/dev/shm/x')\n"
    report = grade_source(toy_kata, tmp_path, source, only={"tests"})
    reason = report.checks["tests"].reason
    assert reason.startswith(
        "importing solution.py raised PermissionError: [Errno 13] Permission denied: '/dev/shm/x'"
    ), reason
    assert reason.endswith(": every hidden test fails"), reason


def test_exiting_inside_a_call_is_not_a_pass(toy_kata: Kata, tmp_path: Path) -> None:
    source = (
        "import sys\ndef top_k_indices(xs: list[float], k: int) -> list[int]:\n    sys.exit(0)\n"
    )
    report = grade_source(toy_kata, tmp_path, source, only={"tests"})
    assert not report.passed
    assert report.checks["tests"].details["passed"] == 0


def test_a_solution_that_raises_pytest_timeouts_message_has_failed_not_timed_out(
    toy_kata: Kata, tmp_path: Path
) -> None:
    source = (
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    raise RuntimeError('Failed: Timeout (>1.0s) from pytest-timeout.')\n"
    )
    report = grade_source(toy_kata, tmp_path, source, only={"tests"})
    assert {t.outcome for t in report.tests} == {"failed"}


def test_an_endless_loop_times_out_per_test_and_the_grade_finishes(
    toy_kata: Kata, tmp_path: Path
) -> None:
    source = (
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    if xs == [1.0, 2.0] and k == 0:\n        while True:\n            pass\n"
        "    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[: max(k, 0)]\n"
    )
    report = grade_source(toy_kata, tmp_path, source, only={"tests"})
    outcomes = {t.id.rsplit("::", 1)[-1]: t.outcome for t in report.tests}
    assert outcomes["test_k_zero_returns_nothing"] == "timeout"
    assert outcomes["test_ties_come_in_index_order"] == "passed"
    assert not report.passed
    looped = next(t for t in report.tests if t.id.endswith("test_k_zero_returns_nothing"))
    # What its worker ran (or, on a machine busy beside the grade's mypy, waited) meanwhile.
    ran = r"running for \d+\.\d s of CPU \(an endless loop|ran for \d+\.\d s and waited"
    assert re.search(ran, looped.reason), looped.reason


def test_a_suite_asked_to_stop_at_its_first_failure_runs_no_further(
    toy_kata: Kata, tmp_path: Path
) -> None:
    # Wrong for a negative k only: the fifth test of seven fails; a full grade runs on.
    source = (
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[:k]\n"
    )
    full = grade_source(toy_kata, tmp_path, source, only={"tests"})
    stopped = grade_source(toy_kata, tmp_path, source, only={"tests"}, first_failure_stops=True)
    assert [t.outcome for t in full.tests] == ["passed"] * 4 + ["failed", "passed", "passed"]
    assert full.checks["tests"].reason.startswith("1 of 7 hidden tests fail")
    outcomes = [(t.id.rsplit("::", 1)[-1], t.outcome) for t in stopped.tests]
    assert [o for _, o in outcomes] == ["passed"] * 4 + ["failed", "not run", "not run"]
    assert outcomes[4][0] == "test_negative_k_returns_nothing"
    assert stopped.checks["tests"].status == "fail" and not stopped.passed
    assert stopped.checks["tests"].reason.startswith(
        "the suite stopped at its first failure, test_negative_k_returns_nothing: "
    )
    assert stopped.tests[5].reason == "never ran: the suite stopped at its first failure"


@pytest.mark.parametrize(
    ("ran", "waited", "said"),
    [
        (19.5, 0.3, "running for 19.5 s of CPU (an endless loop, or far too slow)"),
        (0.2, 0.1, "running for only 0.2 s: it waited on something"),
        (6.0, 13.5, "ran for 6.0 s and waited 13.5 s for a CPU: the machine was too busy"),
    ],
)
def test_a_timeout_says_whether_the_solution_ran_waited_or_was_kept_waiting(
    ran: float, waited: float, said: str
) -> None:
    assert said in _timed_out(20.0, [ran, waited])


def test_importing_the_reference_is_refused(toy_kata: Kata, tmp_path: Path) -> None:
    report = grade_source(toy_kata, tmp_path, "from reference import sampling\n", only={"tests"})
    assert report.checks["tests"].status == "error"
    assert "imports 'reference'" in report.checks["tests"].reason


def test_a_hidden_dynamic_import_of_the_grader_fails_at_run_time(
    toy_kata: Kata, tmp_path: Path
) -> None:
    source = (
        "import importlib\n"
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    importlib.import_module('gra' + 'der.kata')\n"
        "    return []\n"
    )
    report = grade_source(toy_kata, tmp_path, source, only={"tests"})
    assert report.checks["tests"].details["passed"] == 0
    # The worker cannot read the grader's folder: the module is not there for it.
    assert "No module named 'grader.kata'" in report.checks["tests"].reason


def test_type_ignore_comments_are_not_honoured(toy_kata: Kata, tmp_path: Path) -> None:
    source = "# mypy: ignore-errors\ndef top_k_indices(xs, k):  # type: ignore\n    return []\n"
    report = grade_source(toy_kata, tmp_path, source, only={"types"})
    types = report.checks["types"]
    assert types.status == "fail"
    assert types.details["suppressions_ignored"] == 2
    assert "no-untyped-def" in types.reason


def test_a_slow_solution_fails_speed_with_the_ratio(toy_kata: Kata, tmp_path: Path) -> None:
    source = (
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    if k <= 0:\n        return []\n"
        "    order = list(range(len(xs)))\n"
        "    for _ in range(10):  # about 12x the reference: far past the 4x budget\n"
        "        order = sorted(order, key=lambda i: (-xs[i], i))\n"
        "    return order[:k]\n"
    )
    report = grade_source(toy_kata, tmp_path, source, only={"tests", "speed"})
    speed = report.checks["speed"]
    assert speed.status == "fail", report.dumps()
    assert "slower than the reference" in speed.reason
    assert speed.details["ratio"] > 4.0


def test_a_copying_solution_fails_memory_with_the_peak(toy_kata: Kata, tmp_path: Path) -> None:
    source = (
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
        "    pairs = sorted([(-x, i) for i, x in enumerate(xs)])\n"
        "    return [i for _, i in pairs[: max(k, 0)]]\n"
    )
    report = grade_source(toy_kata, tmp_path, source, only={"tests", "memory"})
    memory = report.checks["memory"]
    assert memory.status == "fail", report.dumps()
    assert memory.details["peak_bytes"] > memory.details["budget_bytes"]
    assert "avoid copies of the whole input" in memory.reason


def test_a_conftest_in_the_solution_folder_is_never_loaded(
    toy_kata: Kata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The grade copies only solution.py; copy the whole folder instead, so that what is
    # tested is the guard behind the copy: pytest runs in the judge over the hidden
    # folder alone, and the solution's folder is no place it loads plugins from.
    def copy_folder(solution: Path, workdir: Path) -> Path:
        shutil.copytree(solution.parent, workdir / "solution")
        return workdir / "solution"

    monkeypatch.setattr(pipeline, "private_copy", copy_folder)
    marker = tmp_path / "conftest-ran"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "conftest.py").write_text(
        f"import pathlib, pytest\npathlib.Path({str(marker)!r}).touch()\n"
        "@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n    out = yield\n"
        "    out.get_result().outcome = 'passed'\n"
    )
    report = grade_source(
        toy_kata,
        workspace,
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n    return []\n",
        only={"tests"},
    )
    assert not marker.exists()
    assert not report.passed
    assert report.checks["tests"].details["passed"] < 7


def test_patching_pytest_reports_changes_nothing_the_judge_sees(
    toy_kata: Kata, tmp_path: Path
) -> None:
    source = (
        "from _pytest import reports\n"
        "_orig = reports.TestReport.__init__\n"
        "def _init(self, *a, **k):\n"
        "    _orig(self, *a, **k)\n"
        "    self.outcome = 'passed'\n"
        "reports.TestReport.__init__ = _init\n"
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n    return []\n"
    )
    report = grade_source(toy_kata, tmp_path, source, only={"tests"})
    assert not report.passed
    # pytest runs in the judge; the solution patched only its own process's copy.
    assert report.checks["tests"].details["passed"] == 3  # the tests where [] is right
    assert "hidden tests fail" in report.checks["tests"].reason
