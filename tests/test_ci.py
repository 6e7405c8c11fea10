"""Grading in CI: JUnit, markdown and annotations, the score gate, batches, the workflow."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from junitparser import Error, Failure, JUnitXml

from drills.ci import workflow
from grader.kata import Kata, load_kata_from
from grader.mutants import load_mutants, mutated_source
from grader.pipeline import grade
from grader.render import render_text
from tests.conftest import FIXTURE_KATAS

TOY = FIXTURE_KATAS / "top-k-indices"
UNTYPED_BUT_RIGHT = (
    "import heapq\n\n\ndef top_k_indices(xs, k):\n    if k <= 0:\n        return []\n"
    "    return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))\n"
)


def drill(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drills", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def workspace(root: Path, name: str, source: str | Path) -> Path:
    ws = root / name
    assert drill("start", "top-k-indices", "--dir", str(ws)).returncode == 0
    text = source.read_text() if isinstance(source, Path) else source
    (ws / "solution.py").write_text(text)
    return ws


def test_junit_has_one_case_per_hidden_test_and_per_check(toy_kata: Kata, tmp_path: Path) -> None:
    report = grade(toy_kata, toy_kata.starter_dir / "solution.py", device="cpu")
    path = tmp_path / "report.xml"
    path.write_text(render_text(report, "junit"))
    suites = {suite.name: suite for suite in JUnitXml.fromfile(str(path))}
    hidden = list(suites["top-k-indices.hidden"])
    assert len(hidden) == 7
    assert all(isinstance(r, Failure | Error) for case in hidden for r in case.result)
    assert all("NotImplementedError" in (case.result[0].message or "") for case in hidden)
    checks = {case.name: case for case in suites["top-k-indices.checks"]}
    assert set(checks) == {"mypy --strict", "peak memory", "speed"}
    assert checks["mypy --strict"].is_passed
    assert checks["speed"].is_skipped


def test_a_message_full_of_control_characters_leaves_every_format_readable(
    tmp_path: Path,
) -> None:
    import io

    from rich.console import Console

    from grader.render.terminal import print_report
    from grader.report import Check, Report, TestOutcome
    from grader.wording import printable

    raised = "ValueError: \x1b]52;c;aGk=\x1b\\\x1b[2J ok\r\u202ekcah\ud800\x00"
    report = Report(
        kata="top-k-indices", score=10.0, passed=False, elapsed_s=None, limit_s=None,
        hints_taken=0, pass_mark=80,
        checks={"tests": Check("tests", "fail", reason=raised, details={"failures": [raised]})},
        tests=[TestOutcome("test_top_k.py::test_x", "failed", reason=raised)],
    )  # fmt: skip
    terminal = io.StringIO()
    print_report(report, Console(file=terminal, width=100))  # styled, but no terminal codes
    texts = {fmt: render_text(report, fmt) for fmt in ("junit", "markdown", "json")}
    for fmt, text in {**texts, "rich": terminal.getvalue()}.items():
        assert printable(text) == text, fmt
        assert "x1b]52;c;" in text and "ud800" in text, fmt
    path = tmp_path / "report.xml"
    path.write_text(render_text(report, "junit"), encoding="utf-8")
    (suite,) = [s for s in JUnitXml.fromfile(str(path)) if s.name.endswith(".hidden")]
    assert "\\x1b[2J" in (next(iter(suite)).result[0].message or "")


def test_a_reason_makes_no_markup_in_the_pull_requests_summary() -> None:
    from grader.report import Check, Report, TestOutcome

    raised = "ValueError: </details> ![x](https://evil.example/p.png) @org/team | <b>hi</b>"
    report = Report(
        kata="top-k-indices", score=10.0, passed=False, elapsed_s=None, limit_s=None,
        hints_taken=0, pass_mark=80, checks={"tests": Check("tests", "fail", reason=raised)},
        tests=[TestOutcome("test_top_k.py::test_x", "failed", reason=raised)],
    )  # fmt: skip
    text = render_text(report, "markdown")
    assert f"| `{raised.replace('|', chr(92) + '|')}` |" in text  # a code span in the table
    assert f"(failed): `{raised}`" in text  # and in the list of failing tests
    ticks = render_text(
        Report(
            kata="k", score=0.0, passed=False, elapsed_s=None, limit_s=None, hints_taken=0,
            pass_mark=80, checks={"tests": Check("tests", "fail", reason="`a`` b`")},
        ),
        "markdown",
    )  # fmt: skip
    assert "| ``` `a`` b` ``` |" in ticks  # a longer fence, padded: the text as it is


def test_github_step_summary_and_annotations(toy_katas_dir: Path, tmp_path: Path) -> None:
    ws = workspace(
        tmp_path,
        "ws",
        "def top_k_indices(xs: list[float], k: int) -> list[int]:\n    return [1 // 0]\n",
    )
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = drill(
        "grade",
        "--format",
        "markdown",
        cwd=ws,
        env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"},
    )
    assert result.returncode == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "### drill · top-k-indices" in text
    assert "| hidden tests | ❌ fail |" in text
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert any(
        line.startswith("::error file=solution.py,line=2,title=hidden test ") for line in errors
    ), errors
    assert any("ZeroDivisionError" in line for line in errors)


def test_min_score_gates_a_passing_grade(toy_katas_dir: Path, tmp_path: Path) -> None:
    ws = workspace(tmp_path, "ws", UNTYPED_BUT_RIGHT)
    plain = drill("grade", "--format", "json", cwd=ws)
    report = json.loads(plain.stdout)
    assert plain.returncode == 0 and report["passed"] and report["score"] < 100
    gated = drill("grade", "--format", "json", "--min-score", str(report["score"] + 0.5), cwd=ws)
    assert gated.returncode == 1


def test_kata_option_grades_a_folder_without_a_session(toy_katas_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    shutil.copyfile(TOY / "model_answer.py", folder / "solution.py")
    result = drill(
        "grade",
        "--dir",
        str(folder),
        "--kata",
        "top-k-indices",
        "--only",
        "tests",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["elapsed_s"] is None


def test_batch_grades_every_workspace_and_survives_a_broken_one(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "class"
    workspace(root, "alice", TOY / "model_answer.py")
    workspace(root, "bob", TOY / "starter" / "solution.py")
    broken = workspace(root, "carol", TOY / "model_answer.py")
    (broken / ".drill" / "session.json").write_text("{")
    out = tmp_path / "results.jsonl"
    result = drill(
        "grade", "--batch", str(root), "--workers", "2", "--only", "tests", "--output", str(out)
    )
    assert result.returncode == 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {Path(line["workspace"]).name: line for line in lines}
    assert by_name["alice"]["passed"] is True
    assert by_name["bob"]["passed"] is False
    assert "session.json is corrupt" in by_name["carol"]["error"]
    assert "alice" in result.stdout and "carol" in result.stdout


def test_a_class_hand_in_of_bare_solutions_is_graded_with_kata(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "handed-in"
    for name, source in (
        ("dan", TOY / "model_answer.py"),
        ("eve", TOY / "starter" / "solution.py"),
    ):
        (root / name).mkdir(parents=True)
        shutil.copyfile(source, root / name / "solution.py")
    without = drill("grade", "--batch", str(root), "--only", "tests", "--format", "json")
    lines = [json.loads(line) for line in without.stdout.splitlines()]
    assert [line.get("skipped", "")[:32] for line in lines] == [
        "a solution.py without a drill se"
    ] * 2
    assert "skipped" in without.stderr and "--kata KATA" in without.stderr
    graded = drill(
        "grade",
        "--batch",
        str(root),
        "--kata",
        "top-k-indices",
        "--only",
        "tests",
        "--format",
        "json",
    )
    by_name = {
        Path(line["workspace"]).name: line for line in map(json.loads, graded.stdout.splitlines())
    }
    assert by_name["dan"]["passed"] is True and by_name["eve"]["passed"] is False
    table = drill("grade", "--batch", str(root), "--kata", "top-k-indices")  # full grades
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)  # one line per workspace
    assert "drill batch: 2 workspaces in" in table.stdout and root.name in table.stdout
    (dan,) = [line for line in lines if line.startswith("dan ")]
    (eve,) = [line for line in lines if line.startswith("eve ")]
    assert re.search(r" top-k-indices +100\.0/100 PASSED", dan)
    assert re.search(r" \d+\.\d/100 NOT PASSED +hidden tests: 7 of 7", eve)
    partial = drill("grade", "--batch", str(root), "--kata", "top-k-indices", "--only", "tests")
    assert "partial: tests" in partial.stdout and "PASSED" not in partial.stdout


@pytest.mark.slow
def test_twenty_workspaces_at_once_give_twenty_independent_reports(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "load"
    kata = load_kata_from(TOY)
    sources = [
        (TOY / "model_answer.py").read_text(),
        *(mutated_source(kata, m) for m in load_mutants(kata)),
    ]
    expected = {}
    for i in range(20):
        workspace(root, f"ws{i:02d}", sources[i % len(sources)])
        expected[f"ws{i:02d}"] = i % len(sources) == 0  # the model answer; the rest are mutants
    result = drill(
        "grade", "--batch", str(root), "--workers", "4", "--only", "tests", "--format", "json"
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 20
    got = {Path(line["workspace"]).name: line["passed"] for line in lines}
    assert got == expected


SOURCE = "git+https://example.org/team/drill@v0.1.0"


def test_ci_init_writes_a_workflow_that_actionlint_accepts(tmp_path: Path) -> None:
    result = drill("ci", "init", "--min-score", "85", "--source", SOURCE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / ".github" / "workflows" / "drill.yml"
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "actionlint"
    )
    assert actionlint is not None, "actionlint is a dev dependency (pip install -e '.[dev]')"
    lint = subprocess.run([actionlint, str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    again = drill("ci", "init", "--source", SOURCE, cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


@pytest.mark.parametrize("bare", ["drill", "drill==0.1.0", "drill[dev]>=0.1"])
def test_ci_init_refuses_a_bare_package_name(tmp_path: Path, bare: str) -> None:
    result = drill("ci", "init", "--source", bare, cwd=tmp_path)
    assert result.returncode == 2
    assert "a bare package name installs whatever the public index holds" in result.stderr
    assert not (tmp_path / ".github").exists()


def test_ci_init_checks_its_source_before_the_file_and_never_overwrites_code(
    tmp_path: Path,
) -> None:
    assert drill("ci", "init", "--source", SOURCE, cwd=tmp_path).returncode == 0
    bare = drill("ci", "init", "--source", "drill", cwd=tmp_path)
    assert bare.returncode == 2 and "a bare package name" in bare.stderr
    solution = tmp_path / "solution.py"
    solution.write_text("def f() -> int:\n    return 1\n")
    over = drill("ci", "init", "--source", SOURCE, "--path", "solution.py", "--force", cwd=tmp_path)
    assert over.returncode == 2 and "solution.py is source code" in over.stderr
    assert solution.read_text() == "def f() -> int:\n    return 1\n"
    under_a_file = drill(
        "ci", "init", "--source", SOURCE, "--path", "solution.py/x.yml", cwd=tmp_path
    )
    assert under_a_file.returncode == 2
    assert "cannot write solution.py/x.yml" in under_a_file.stderr
    assert "Traceback" not in under_a_file.stderr


def test_the_workflow_never_runs_grader_code_from_the_pull_request() -> None:
    spec = yaml.safe_load(workflow(SOURCE, "2.13.0", 80))
    assert list(spec[True]) == ["pull_request_target"]  # YAML reads the key `on` as True
    assert spec["permissions"] == {"contents": "read"}
    steps = spec["jobs"]["grade"]["steps"]
    names = [s.get("name") or s.get("uses") for s in steps]
    install = next(i for i, s in enumerate(steps) if "Install drill" in str(s.get("name")))
    checkout = next(
        i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/checkout")
    )
    assert install < checkout, names
    assert steps[checkout]["with"]["persist-credentials"] is False
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    assert "pip install" in runs and '"$DRILL_SOURCE"' in runs
    assert '"torch==$TORCH_VERSION"' in runs  # pinned, before drill asks for a range
    assert "pip install ." not in runs and "-e ." not in runs and "requirements" not in runs
    assert "--min-score 80" in runs


def step(spec: dict[str, object], name: str) -> dict[str, object]:
    jobs = spec["jobs"]
    assert isinstance(jobs, dict)
    found = [s for s in jobs["grade"]["steps"] if name in str(s.get("name", ""))]
    assert len(found) == 1, name
    return dict(found[0])


@pytest.mark.slow
def test_the_workflows_install_and_grade_steps_work_in_a_clean_environment(
    tmp_path: Path, toy_katas_dir: Path
) -> None:
    """The generated steps, run as a runner would: a fresh venv, drill from a pinned
    source (here this checkout), torch pinned, then the grade of a changed workspace."""
    repo = Path(__file__).resolve().parent.parent
    spec = yaml.safe_load(workflow(str(repo), "2.13.0", 80))
    runner = tmp_path / "runner"
    runner.mkdir()
    github_path = runner / "path.txt"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "RUNNER_TEMP": str(runner),
        "GITHUB_PATH": str(github_path),
        "DRILL_SOURCE": str(repo),
        "TORCH_VERSION": "2.13.0",
        "TORCH_INDEX_URL": "",  # this machine's own index holds the CPU build
    }
    install = step(spec, "Install drill")
    done = subprocess.run(
        ["bash", "-e", "-c", str(install["run"])], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    bin_dir = github_path.read_text().strip()
    assert Path(bin_dir, "drill").exists()

    ws = workspace(tmp_path, "alice", TOY / "model_answer.py")
    (runner / "workspaces.txt").write_text(f"{ws}\n")
    grade_env = {
        **env,
        "PATH": f"{bin_dir}:{env['PATH']}",
        "DRILL_KATAS": os.environ["DRILL_KATAS"],
        "DRILL_HOME": str(tmp_path / "home"),
        "DRILL_NO_WARM": "1",
    }
    graded = subprocess.run(
        ["bash", "-e", "-c", str(step(spec, "Grade")["run"])],
        env=grade_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    reports = list((runner / "reports").glob("*.xml"))
    assert len(reports) == 1


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("git+https://example.org/team/drill", "no @TAG or @COMMIT"),
        ("git+https://example.org/team/drill@main", "@main is a branch, which moves"),
        ("drill @ git+ssh://git@example.org/team/drill@master", "@master is a branch"),
        ("./dist/drill-0.1.0-py3-none-any.whl", "a path on this machine"),
        ("/opt/wheels/drill-0.1.0-py3-none-any.whl", "a path on this machine"),
        ("drill-0.1.0-py3-none-any.whl", "a path on this machine"),
        ("file:///opt/wheels/drill-0.1.0-py3-none-any.whl", "a path on this machine"),
        ("git+file:///srv/drill@v0.1.0", "not over file://"),
        ("http://example.org/drill-0.1.0-py3-none-any.whl", "a wheel fetched over https"),
    ],
)
def test_ci_init_refuses_a_source_that_is_not_pinned_or_not_reachable_from_a_runner(
    tmp_path: Path, source: str, why: str
) -> None:
    result = drill("ci", "init", "--source", source, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"drill: --source {source}: ") and why in line, line
    assert "git+https://HOST/OWNER/REPO@TAG or @COMMIT, or a wheel's https:// URL" in line
    assert not (tmp_path / ".github").exists()


@pytest.mark.parametrize(
    "source",
    [
        SOURCE,
        "git+https://example.org/team/drill@3f2a9c1d",
        "git+ssh://git@example.org/team/drill.git@v0.1.0",
        "drill @ git+https://example.org/team/drill@v0.1.0",
        "https://example.org/wheels/drill-0.1.0-py3-none-any.whl",
    ],
)
def test_a_pinned_git_source_or_a_wheels_https_url_is_accepted(source: str) -> None:
    from drills.ci import check_source

    assert check_source(f" {source} ") == source


def git_clone(root: Path, origin: str | None) -> Path:
    """A repository with one commit, and `origin` as its remote."""
    root.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)

    git("init", "-q")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.org",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    if origin is not None:
        git("remote", "add", "origin", origin)
    return root


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_clone_whose_origin_is_a_local_path_is_said_to_be_one(tmp_path: Path) -> None:
    from drills.ci import default_source
    from grader.errors import BadInput

    clone = git_clone(tmp_path / "clone", str(tmp_path / "upstream"))
    with pytest.raises(BadInput) as raised:
        default_source(clone)
    message = str(raised.value)
    assert f"({tmp_path / 'upstream'}) is a local path, which a CI runner cannot reach" in message
    assert "does not run from a clone" not in message
    with pytest.raises(BadInput, match="has no origin to pin"):
        default_source(git_clone(tmp_path / "lonely", None))
    inside = tmp_path / "lonely" / "venv" / "site-packages"  # drill installed into a clone
    inside.mkdir(parents=True)
    with pytest.raises(BadInput, match="does not run from a clone it could pin"):
        default_source(inside)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_default_source_is_the_origin_at_its_commit_without_a_token(tmp_path: Path) -> None:
    from drills.ci import check_source, default_source

    clone = git_clone(tmp_path / "clone", "https://me:s3cret@example.org/team/drill.git")
    pinned = default_source(clone)
    assert pinned == f"git+https://example.org/team/drill.git@{_head(clone)}"
    assert check_source(pinned) == pinned
    ssh = git_clone(tmp_path / "ssh", "git@example.org:team/drill.git")
    assert default_source(ssh) == f"git+ssh://git@example.org/team/drill.git@{_head(ssh)}"


def _head(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_batch_honours_strict_time_and_refuses_a_format_it_cannot_write(
    toy_katas_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "class"
    late = workspace(root, "late", TOY / "model_answer.py")
    path = late / ".drill" / "session.json"
    session = json.loads(path.read_text())
    session["started_at"] = "2020-01-01T00:00:00+00:00"  # far past any limit
    path.write_text(json.dumps(session))
    junit = drill("grade", "--batch", str(root), "--format", "junit")
    assert junit.returncode == 2 and "--batch writes a table (rich) or json" in junit.stderr
    lenient = drill("grade", "--batch", str(root), "--only", "tests", "--format", "json")
    strict = drill(
        "grade", "--batch", str(root), "--only", "tests", "--format", "json", "--strict-time"
    )
    assert json.loads(lenient.stdout)["passed"] is True and lenient.returncode == 0
    assert json.loads(strict.stdout)["passed"] is False and strict.returncode == 1
