"""Both roles at once, each in its own process, on one workspace; then the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from drills.__main__ import run
from tests.mock.helpers import events, session_json

REPO = Path(__file__).resolve().parents[2]


def minutes(t: float) -> str:
    return f"{round(t) // 60}m{round(t) % 60:02d}s"


def role(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.mock.roles", *args],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_candidate_and_interviewer_in_two_processes_and_the_report_shows_both(
    mock_ws: Path, toy_katas_dir: Path, tmp_path: Path
) -> None:
    model = toy_katas_dir / "top-k-indices" / "model_answer.py"
    interviewer = role("interviewer", str(mock_ws))
    candidate = role("candidate", str(mock_ws), str(model), str(tmp_path))
    outputs = {}
    for name, proc in (("candidate", candidate), ("interviewer", interviewer)):
        outputs[name] = proc.communicate(timeout=240)[0]
    assert candidate.returncode == 0, outputs["candidate"][-2000:]
    assert interviewer.returncode == 0, outputs["interviewer"][-2000:]

    # the candidate saw the interviewer's hint in `drill test`
    second_test = (tmp_path / "second-test.txt").read_text()
    assert "Hint 1 from your interviewer: Think about what to sort by." in second_test
    # ...and the grade counted it
    grade = json.loads((tmp_path / "grade.json").read_text())
    assert grade["hints_taken"] == 1 and grade["passed"] is True
    assert [h["index"] for h in session_json(mock_ws)["hints"]] == [0]

    # every line both processes wrote is there, in order of the story
    kinds = [e.kind for e in events(mock_ws)]
    assert kinds[:3] == ["start", "test", "hint"]
    assert kinds.count("test") == 2 and kinds.count("grade") == 1
    assert kinds.count("score") == 4 and kinds.count("note") == 1
    assert kinds.index("hint") < kinds.index("grade") < kinds.index("score")
    hint = events(mock_ws, "hint")[0]
    first_pass = next(e for e in events(mock_ws, "test") if e.data["ok"])

    report = tmp_path / "report.md"
    assert run(["mock", "report", "--dir", str(mock_ws), "--output", str(report)]) == 0
    text = report.read_text()
    # `--only tests,types` is a partial grade: listed as such, never as the mock's grade
    partial_t = minutes(events(mock_ws, "grade")[0].t)
    auto_grade = text.split("## Auto-grade")[1].split("##")[0]
    assert "/100" not in auto_grade
    for needle in (
        "No full grade was run",
        f"Partial runs (`drill grade --only`: not grades of the kata, no score out of 100): "
        f"tests, types: passed at {partial_t}.",
        f"| {partial_t} | grade --only | tests, types: passed |",
        f"| 1 | {minutes(hint.t)} | Think about what to sort by. |",
        f"Time to first passing visible test: **{minutes(first_pass.t)}**",
        "| Correctness and edge cases | 3/4 | right |",
        "| Complexity and memory | 3/4 | heap |",
        "| Testing and communication | 2/4 | some tests |",
        "Total 12/16",
        "Batch this across 1000 inputs and parallelise it.",
        "asked about ties before coding",
    ):
        assert needle in text, needle
    html = tmp_path / "report.html"
    assert run(["mock", "report", "--dir", str(mock_ws), "--output", str(html)]) == 0
    page = html.read_text()
    assert page.count('<circle class="test"') == 2 and page.count('<rect class="grade"') == 0
