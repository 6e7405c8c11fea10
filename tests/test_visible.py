"""The visible tests' runner (drills/visible.py): fresh, sandboxed runs from a warm zygote.

Each test starts a real runner on the torch-free fixture kata, so a zygote starts in a
fraction of a second.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills import actions
from drills.visible import RunCancelled, VisibleRunner
from drills.workspace import Mode
from grader.worker import landlock

needs_landlock = pytest.mark.skipif(
    landlock.abi_version() < 1, reason="the worker's read and write rules need Landlock"
)

MODEL = """
import sys

# Counts the imports of this module in this interpreter: `sys` is loaded before the
# zygote forks, so a run that shared an interpreter with an earlier one would see 2.
sys.drill_imports = getattr(sys, "drill_imports", 0) + 1  # type: ignore[attr-defined]
IMPORTS = sys.drill_imports  # type: ignore[attr-defined]


def top_k_indices(xs: list[float], k: int) -> list[int]:
    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[:k]
"""


@pytest.fixture
def ws(toy_katas_dir: Path, tmp_path: Path) -> Path:
    started = actions.start(
        "top-k-indices", tmp_path / "ws", None, force=False, resume=False, mode=Mode.PRACTICE
    )
    return started.workspace.root


@pytest.fixture
def runner(ws: Path) -> Iterator[VisibleRunner]:
    from grader.kata import load_kata

    with VisibleRunner(ws, load_kata("top-k-indices")) as r:
        yield r


def test_the_starter_fails_with_its_message(runner: VisibleRunner) -> None:
    result = runner.run()
    assert (result.passed, result.failed, result.ok) == (0, 1, False)
    assert result.first_failure == (
        "test_example_from_the_prompt: NotImplementedError: top_k_indices"
    )


def test_two_warm_runs_share_nothing(ws: Path, runner: VisibleRunner) -> None:
    (ws / "solution.py").write_text(MODEL)
    (ws / "test_fresh.py").write_text(
        "import sys\n\nimport solution\n\n"
        "def test_imported_once_in_this_interpreter() -> None:\n"
        "    assert solution.IMPORTS == 1\n\n"
        "def test_the_first_run_in_this_interpreter() -> None:\n"
        "    sys.drill_runs = getattr(sys, 'drill_runs', 0) + 1\n"
        "    assert sys.drill_runs == 1\n"
    )
    first, second = runner.run(), runner.run()
    assert (first.passed, first.failed) == (3, 0), first.first_failure
    assert (second.passed, second.failed) == (3, 0), second.first_failure


def test_a_save_between_runs_is_what_the_next_run_tests(ws: Path, runner: VisibleRunner) -> None:
    assert not runner.run().ok
    (ws / "solution.py").write_text(MODEL)
    assert runner.run().ok


def test_a_solution_that_does_not_parse_is_one_line_with_its_line_number(
    ws: Path, runner: VisibleRunner, capfd: pytest.CaptureFixture[str]
) -> None:
    (ws / "solution.py").write_text("import math\n\ndef top_k_indices(xs, k)\n    return xs\n")
    result = runner.run(echo=True)
    out, err = capfd.readouterr()
    assert (result.ok, result.passed, result.failed) == (False, 0, 0)
    assert result.first_failure == "solution does not parse: solution.py line 3: expected ':'"
    assert out == "" and err == f"drill: {result.first_failure}\n"  # not pytest's traceback
    (ws / "solution.py").write_text(MODEL.replace("return sorted", "return 1 + sorted"))
    failed = runner.run(echo=True)
    out = capfd.readouterr().out
    assert failed.failed == 1 and "TypeError" in out and "1 failed" in out  # pytest's own


def test_a_folder_named_solution_py_is_said_to_be_a_folder(ws: Path) -> None:
    from grader.errors import BadInput
    from grader.kata import load_kata
    from grader.pipeline import grade

    (ws / "solution.py").unlink()
    (ws / "solution.py").mkdir()
    kata = load_kata("top-k-indices")
    with pytest.raises(BadInput, match=r"solution\.py is a folder, not a file: the visible"):
        VisibleRunner(ws, kata).run()  # refused before any zygote is needed
    with pytest.raises(BadInput, match=r"solution\.py is a folder, not a file: the workspace"):
        grade(kata, ws / "solution.py")


def test_a_run_that_dies_says_how(ws: Path, runner: VisibleRunner) -> None:
    (ws / "solution.py").write_text("import os\nos._exit(0)\n")
    result = runner.run()
    assert not result.ok  # exit status 0, but pytest never reported
    assert result.first_failure == (
        "the test run exited with status 0 before pytest wrote its results"
    )


def test_a_cancelled_run_has_no_result(ws: Path, runner: VisibleRunner) -> None:
    (ws / "test_slow.py").write_text(
        "import time\n\ndef test_slow() -> None:\n    time.sleep(30)\n"
    )
    started = threading.Event()
    outcome: list[BaseException] = []

    def run() -> None:
        started.set()
        try:
            runner.run()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    while not runner._pid:  # the worker is being forked
        thread.join(0.01)
    runner.cancel()
    thread.join(60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], RunCancelled)


@needs_landlock
def test_the_tests_cannot_read_outside_the_allow_list(
    ws: Path, runner: VisibleRunner, tmp_path: Path
) -> None:
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("not for the tests")
    assert secret.read_text() == "not for the tests"  # readable, just not from there
    (ws / "solution.py").write_text(MODEL)
    (ws / "test_reach.py").write_text(
        "from pathlib import Path\n\n"
        f"def test_read_a_secret() -> None:\n    Path({str(secret)!r}).read_text()\n\n"
        "def test_write_the_solution() -> None:\n    Path('solution.py').write_text('x = 1')\n\n"
        "def test_write_tmp_path(tmp_path: Path) -> None:\n    (tmp_path / 'x').write_text('y')\n"
    )
    result = runner.run()
    assert (result.passed, result.failed) == (2, 2), result.first_failure
    assert result.first_failure.startswith("test_read_a_secret: PermissionError")
    assert (ws / "solution.py").read_text() == MODEL


@needs_landlock
def test_links_the_tests_put_in_place_of_their_output_and_report_are_not_followed(
    ws: Path, runner: VisibleRunner, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # drill reads the run's output and junit files with the user's rights: links there
    # would print (or parse) anything the user can read, hidden suites included.
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("x" * 65536 + "SECRET-OF-THE-USER")  # past what was echoed before
    (ws / "solution.py").write_text(MODEL)
    (ws / "test_swap.py").write_text(
        "import os\n\n"
        "def test_swap_the_output_for_a_link() -> None:\n"
        "    for n in os.listdir('/proc/self/fd'):\n"
        "        try:\n"
        "            output = os.readlink(f'/proc/self/fd/{n}')\n"
        "        except OSError:\n"
        "            continue\n"
        "        if output.endswith('/output.txt'):\n"
        "            break\n"
        f"    os.symlink({str(secret)!r}, output + '.link')\n"
        "    os.replace(output + '.link', output)\n"
    )
    result = runner.run(echo=True)
    assert "SECRET-OF-THE-USER" not in capfd.readouterr().out
    assert "SECRET-OF-THE-USER" not in result.first_failure


def test_no_tests_collected_is_said(ws: Path, runner: VisibleRunner) -> None:
    (ws / "test_visible.py").write_text("from solution import top_k_indices\n")
    result = runner.run()
    assert (result.ok, result.passed, result.failed) == (False, 0, 0)
    assert result.first_failure == "no tests were collected"


def test_hypothesis_runs_in_the_sandbox(
    ws: Path, runner: VisibleRunner, capfd: pytest.CaptureFixture[str]
) -> None:
    (ws / "solution.py").write_text(MODEL)
    (ws / "test_props.py").write_text(
        "from hypothesis import given, strategies as st\n"
        "from solution import top_k_indices\n\n"
        "@given(st.lists(st.floats(allow_nan=False), max_size=5))\n"
        "def test_length(xs: list[float]) -> None:\n"
        "    assert len(top_k_indices(xs, 2)) == min(len(xs), 2)\n"
    )
    result = runner.run(echo=True)
    out = capfd.readouterr().out
    assert (result.passed, result.failed) == (2, 0), out
    assert "2 passed" in out
    assert "Warning" not in out
    assert not (ws / ".hypothesis").exists()  # its example database is not written there


def test_tests_may_start_processes_with_spawn(ws: Path, runner: VisibleRunner) -> None:
    # The ring kata's visible tests start their ranks this way; spawn re-imports
    # `__main__` in each child, which in a worker must not be the zygote's module.
    (ws / "solution.py").write_text(MODEL)
    (ws / "test_spawn.py").write_text(
        "import multiprocessing\n\n"
        "def double(x: int) -> int:\n    return 2 * x\n\n"
        "def test_a_pool_of_one() -> None:\n"
        "    with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
        "        assert pool.map(double, [1, 2]) == [2, 4]\n"
    )
    result = runner.run()
    assert (result.passed, result.failed) == (2, 0), result.first_failure


def test_tests_may_make_unix_sockets(ws: Path, runner: VisibleRunner) -> None:
    # multiprocessing's forkserver (Python 3.14's default) and its managers talk over
    # them: the candidate's own tests keep them, where a grade's workers do not.
    (ws / "solution.py").write_text(MODEL)
    (ws / "test_socket.py").write_text(
        "import socket\n\n"
        "def test_a_unix_socket() -> None:\n"
        "    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()\n"
    )
    result = runner.run()
    assert (result.passed, result.failed) == (2, 0), result.first_failure


def test_a_profiled_run_ends_with_the_solutions_functions_by_time(
    ws: Path, runner: VisibleRunner, capfd: pytest.CaptureFixture[str]
) -> None:
    (ws / "solution.py").write_text(MODEL)
    assert runner.run(echo=True).ok
    assert "Where the time went" not in capfd.readouterr().out
    assert runner.run(echo=True, profile=True).ok
    out = capfd.readouterr().out
    mine = out.split("solution.py, by cumulative time")[1].split("every function")[0]
    assert re.search(r"\d+\s+top_k_indices \(solution\.py:\d+\)", mine), out


def test_a_profiled_run_where_no_test_body_ran_says_so(
    ws: Path, runner: VisibleRunner, capfd: pytest.CaptureFixture[str]
) -> None:
    (ws / "solution.py").write_text(MODEL)
    (ws / "test_visible.py").write_text(
        "import pytest\n\n@pytest.mark.skip(reason='later')\ndef test_later() -> None:\n    pass\n"
    )
    runner.run(echo=True, profile=True)
    out = capfd.readouterr().out
    assert "Nothing was profiled: no test body ran." in out and "Where the time went" not in out
