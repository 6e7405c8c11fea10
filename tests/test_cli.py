"""The command contract (docs/guide.md): outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from drills.__main__ import run


def drill(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point in a fresh interpreter, as a user's shell runs it."""
    return subprocess.run(
        [sys.executable, "-m", "drills", *args],
        cwd=cwd,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("drill: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_list_as_json_has_the_contract_fields(toy_katas_dir: Path) -> None:
    result = drill("list", "--format", "json")
    assert result.returncode == 0
    (entry,) = json.loads(result.stdout)
    assert {"id", "title", "topics", "difficulty", "minutes"} <= set(entry)
    assert entry["id"] == "top-k-indices"


def test_list_as_a_table_names_each_kata(toy_katas_dir: Path) -> None:
    result = drill("list")
    assert result.returncode == 0
    assert "top-k-indices" in result.stdout


def test_show_renders_the_prompt(toy_katas_dir: Path) -> None:
    result = drill("show", "top-k-indices")
    assert result.returncode == 0
    assert "Indices of the k largest values" in result.stdout


def test_an_unknown_kata_suggests_the_closest(toy_katas_dir: Path) -> None:
    result = drill("start", "top-k-indeces")
    assert result.returncode == 2
    assert "Did you mean 'top-k-indices'?" in one_line_error(result)


@pytest.mark.parametrize("timed", ["30x", "-5m"])
def test_a_malformed_duration_is_refused(toy_katas_dir: Path, tmp_path: Path, timed: str) -> None:
    result = drill("start", "top-k-indices", "--dir", str(tmp_path / "ws"), "--timed", timed)
    assert result.returncode == 2
    assert "expected a duration like 30m" in one_line_error(result)
    assert not (tmp_path / "ws").exists()


def test_starting_over_an_existing_workspace_names_resume_and_force(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert drill("start", "top-k-indices", "--dir", str(ws)).returncode == 0
    (ws / "solution.py").write_text("my work")
    result = drill("start", "top-k-indices", "--dir", str(ws))
    assert result.returncode == 2
    line = one_line_error(result)
    assert "--resume" in line and "--force" in line
    assert (ws / "solution.py").read_text() == "my work"


def test_history_of_an_unknown_kata_is_bad_input(toy_katas_dir: Path) -> None:
    result = drill("history", "--kata", "top-k-indeces")
    assert result.returncode == 2
    assert "Did you mean 'top-k-indices'?" in one_line_error(result)


def test_history_of_a_kata_never_graded_says_so(toy_katas_dir: Path) -> None:
    result = drill("history", "--kata", "top-k-indices")
    assert result.returncode == 0
    assert "No grades of top-k-indices yet" in result.stdout


def test_start_prints_the_headline_and_the_deadline(toy_katas_dir: Path, tmp_path: Path) -> None:
    result = drill("start", "top-k-indices", "--dir", str(tmp_path / "ws"), "--timed", "90s")
    assert result.returncode == 0
    assert "Indices of the k largest values" in result.stdout
    assert "deadline" in result.stdout and "1m30s" in result.stdout


def test_grade_outside_a_workspace_is_exit_2(toy_katas_dir: Path, tmp_path: Path) -> None:
    result = drill("grade", cwd=tmp_path)
    assert result.returncode == 2
    assert "not inside a drill workspace" in one_line_error(result)


def test_a_corrupt_session_is_exit_2_and_names_the_file(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    drill("start", "top-k-indices", "--dir", str(ws))
    (ws / ".drill" / "session.json").write_text("[]")
    result = drill("status", "--dir", str(ws))
    assert result.returncode == 2
    assert "session.json is corrupt" in one_line_error(result)


def test_a_malformed_kata_yaml_names_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "katas" / "broken"
    bad.mkdir(parents=True)
    (bad / "kata.yaml").write_text("id: broken\ntitle: Broken\n")
    monkeypatch.setenv("DRILL_KATAS", str(tmp_path / "katas"))
    result = drill("show", "broken")
    assert result.returncode == 2
    line = one_line_error(result)
    assert "broken/kata.yaml" in line and "'summary' is a required property" in line


def test_an_unknown_option_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["list", "--colour"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--colour" in err[0]


def test_hints_are_revealed_in_order_and_recorded(toy_katas_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    drill("start", "top-k-indices", "--dir", str(ws))
    first = drill("hint", "--yes", "--dir", str(ws))
    assert (
        first.returncode == 0 and "Hint 1/3" in first.stdout and "what to sort by" in first.stdout
    )
    assert "Hint 2/3" in drill("hint", "--yes", "--dir", str(ws)).stdout
    status = drill("status", "--dir", str(ws))
    assert "2 taken" in status.stdout and "-10 points" in status.stdout
    session = json.loads((ws / ".drill" / "session.json").read_text())
    assert [h["index"] for h in session["hints"]] == [0, 1]


def test_no_hints_left_is_a_clear_error(toy_katas_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    drill("start", "top-k-indices", "--dir", str(ws))
    for _ in range(3):
        drill("hint", "--yes", "--dir", str(ws))
    result = drill("hint", "--yes", "--dir", str(ws))
    assert result.returncode == 2
    assert "no hints left" in one_line_error(result)


def test_the_visible_tests_run_and_fail_on_the_starter(toy_katas_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    drill("start", "top-k-indices", "--dir", str(ws))
    result = drill("test", "--dir", str(ws))
    assert result.returncode == 1
    assert "NotImplementedError" in result.stdout
    session = json.loads((ws / ".drill" / "session.json").read_text())
    assert session["last_test"]["failed"] == 1


def test_a_candidates_own_hypothesis_and_timeout_tests_run_under_drill_test(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    drill("start", "top-k-indices", "--dir", str(ws))
    (ws / "test_mine.py").write_text(
        "import pytest\n"
        "from hypothesis import given, strategies as st\n"
        "from solution import top_k_indices\n\n"
        "@given(st.lists(st.floats(allow_nan=False), max_size=5))\n"
        "def test_length(xs: list[float]) -> None:\n"
        "    assert len(top_k_indices(xs, 2)) == min(len(xs), 2)\n\n"
        "@pytest.mark.timeout(5)\n"
        "def test_marker_from_pytest_timeout() -> None:\n"
        "    pass\n"
    )
    result = drill("test", "--dir", str(ws))
    assert result.returncode == 1
    # hypothesis reports its failing example; pytest-timeout knows its marker.
    assert re.search("Failing test case|Falsifying example", result.stdout), result.stdout[-2000:]
    assert "PytestUnknownMarkWarning" not in result.stdout
    session = json.loads((ws / ".drill" / "session.json").read_text())
    assert session["last_test"] == {**session["last_test"], "passed": 1, "failed": 2}


def test_the_cli_starts_without_heavy_imports() -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['drill', 'list']\n"
        "try:\n    runpy.run_module('drills', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'numpy', 'mypy', 'memray', 'drills.estimate.topics') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr[-500:]


def test_drill_test_without_a_solution_is_one_clear_line(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert drill("start", "top-k-indices", "--dir", str(ws)).returncode == 0
    (ws / "solution.py").unlink()
    result = drill("test", cwd=ws)
    assert result.returncode == 2
    assert "solution.py does not exist" in one_line_error(result)


def test_a_hint_is_not_spent_without_a_yes(toy_katas_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    drill("start", "top-k-indices", "--dir", str(ws))
    result = drill("hint", "--dir", str(ws))  # no terminal to ask on
    assert result.returncode == 2
    assert "costs 5 points: pass --yes" in one_line_error(result)
    assert json.loads((ws / ".drill" / "session.json").read_text())["hints"] == []


def test_shell_completion_is_offered() -> None:
    # Typer names the shell from the process tree; a runner's tree may hold none (a
    # detached CI job), so the script is asked of bash, run as a user's shell runs it
    # (`; exit $?` keeps bash from exec'ing drill in its place, which would leave no bash).
    shown = subprocess.run(
        ["bash", "-c", f"{shlex.quote(sys.executable)} -m drills --show-completion; exit $?"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert shown.returncode == 0 and "_DRILL_COMPLETE" in shown.stdout, shown.stderr


def test_again_inside_a_workspace_restarts_that_workspace(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "mine"
    assert drill("start", "top-k-indices", "--dir", str(ws)).returncode == 0
    (ws / "notes").mkdir()
    again = drill("start", "top-k-indices", "--again", cwd=ws / "notes")
    assert again.returncode == 0, again.stderr
    assert len(list((ws / ".drill" / "attempts").iterdir())) == 1
    assert not (ws / "notes" / "top-k-indices").exists()


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("solution.py", "solution.py is source code: drill never writes over it"),
        ("PROMPT.md", "PROMPT.md is part of a drill workspace: drill never writes over it"),
        (".drill/session.json", "part of a drill workspace"),
        ("missing/report.json", "cannot write missing/report.json: there is no folder missing"),
        (".", ". is a folder: name a file to write"),
    ],
)
def test_a_report_is_never_written_over_the_candidates_work(
    toy_katas_dir: Path, tmp_path: Path, target: str, why: str
) -> None:
    ws = tmp_path / "ws"
    assert drill("start", "top-k-indices", "--dir", str(ws)).returncode == 0
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    for args in (["grade", "--format", "json"], ["export"], ["mock", "report"]):
        result = drill(*args, "--output", target, cwd=ws)
        assert result.returncode == 2, result.stderr
        assert why in one_line_error(result)
    assert {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()} == before
    assert drill("history", "--format", "json").stdout.strip() == "[]"  # nothing was graded


def test_a_report_goes_to_a_new_file_beside_the_solution(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert drill("start", "top-k-indices", "--dir", str(ws)).returncode == 0
    result = drill("grade", "--only", "types", "--format", "json", "-o", "report.json", cwd=ws)
    assert result.returncode == 0, result.stderr
    assert json.loads((ws / "report.json").read_text())["kata"] == "top-k-indices"


def test_stats_writes_no_empty_plots(toy_katas_dir: Path, tmp_path: Path) -> None:
    result = drill("stats", "--html", str(tmp_path / "stats.html"))
    assert result.returncode == 0
    assert "Nothing to plot yet" in result.stderr and "Warning" not in result.stderr
    assert not (tmp_path / "stats.html").exists()


@pytest.mark.parametrize("columns", [80, 140])
def test_list_gives_each_kata_one_line_grouped_by_format(columns: int) -> None:
    from grader.kata import all_katas
    from grader.paths import BUILTIN_KATAS

    result = subprocess.run(
        [sys.executable, "-m", "drills", "list"],
        env={**os.environ, "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines)
    katas = all_katas(BUILTIN_KATAS)
    for kata in katas:
        (line,) = [line for line in lines if line.split()[:1] == [kata.id]]
        assert line.rstrip().endswith(f" {kata.minutes}")
    headings = ["Write it from scratch", "Find and fix the planted bug", "Make it fast"]
    at = [next(n for n, line in enumerate(lines) if h in line) for h in headings]
    assert at == sorted(at)
    hunts = [
        n
        for n, line in enumerate(lines)
        if line.split()[:1] and line.split()[0].startswith("bug-hunt-")
    ]
    assert at[1] < min(hunts) and max(hunts) < at[2]


def test_history_gives_each_grade_one_line_on_an_80_column_terminal() -> None:
    from datetime import UTC, datetime

    from drills.history import History
    from grader.report import Check, Report

    for n, (kata, score, passed) in enumerate(
        [("kv-cache", 100.0, True), ("moe-router", 55.0, False)]
    ):
        History().record(
            f"attempt{n}-0123456789",
            Path("/w"),
            Report(
                kata=kata, score=score, passed=passed, elapsed_s=600.0, limit_s=2700.0,
                hints_taken=n, checks={"tests": Check("tests", "pass")}, pass_mark=80,
                graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )  # fmt: skip
    narrow = drill("history")  # not a terminal: 80 columns
    rows = [line for line in narrow.stdout.splitlines() if " 10m00s / 45m00s " in line]
    assert len(rows) == 2 and all(len(line) <= 80 for line in rows)
    assert any(re.search(r" kv-cache +100\.0 passed ", row) for row in rows)
    assert any(re.search(r" moe-router +55\.0 not passed ", row) for row in rows)
    assert "attempt" not in narrow.stdout
    wide = subprocess.run(
        [sys.executable, "-m", "drills", "history"],
        env={**os.environ, "COLUMNS": "120"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "attempt0" in wide.stdout and "attempt0-01" not in wide.stdout


def test_brackets_in_a_path_or_a_reason_print_as_they_are(
    toy_katas_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich reads `[/x]` as a closing tag and `[i]` as italics: text drill did not write
    is shown as it is, never read as markup (nor crashes the command)."""
    import io

    from rich.console import Console

    from grader.render.terminal import print_report
    from grader.report import Check, Report

    monkeypatch.setenv("COLUMNS", "400")  # the temporary path is long
    ws = tmp_path / "ws[/x] k[i]"
    started = drill("start", "top-k-indices", "--dir", str(ws))
    assert started.returncode == 0, started.stderr
    assert f"Workspace {ws}:" in started.stdout
    status = drill("status", "--dir", str(ws))
    assert status.returncode == 0 and "ws[/x] k[i]" in status.stdout
    reason = "ValueError: [/oops] [bold red]LOUD[/] logits[i]"
    report = Report(
        kata="top-k-indices", score=0.0, passed=False, elapsed_s=None, limit_s=None,
        hints_taken=0, pass_mark=80, checks={"tests": Check("tests", "fail", reason=reason)},
    )  # fmt: skip
    out = io.StringIO()
    print_report(report, Console(file=out, width=200))
    assert reason in out.getvalue()


def test_bug_hunt_stands_for_every_family_in_show_and_history() -> None:
    from datetime import UTC, datetime

    from drills.history import History
    from grader.kata import all_katas
    from grader.paths import BUILTIN_KATAS
    from grader.report import Check, Report

    families = [k.id for k in all_katas(BUILTIN_KATAS) if k.is_bug_hunt]
    shown = drill("show", "bug-hunt")
    assert shown.returncode == 0
    assert all(f"  {family} " in shown.stdout for family in families)
    for n, kata in enumerate(["bug-hunt-moe", "kv-cache", "bug-hunt-sampling"]):
        History().record(
            f"a{n}", Path("/w"),
            Report(
                kata=kata, score=90.0, passed=True, elapsed_s=60.0, limit_s=1800.0,
                hints_taken=0, checks={"tests": Check("tests", "pass")}, pass_mark=85,
                graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )  # fmt: skip
    rows = json.loads(drill("history", "-k", "bug-hunt", "--format", "json").stdout)
    assert sorted(r["kata"] for r in rows) == ["bug-hunt-moe", "bug-hunt-sampling"]
    checked = drill("validate", "bug-hunt", "--quick")
    assert checked.returncode == 0, checked.stdout[-2000:]
    assert all(f"{family}: planted bug " in checked.stdout for family in families)
