"""The candidate's and the interviewer's commands on one mock workspace (in process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drills import actions
from drills.__main__ import run
from drills.mock import interview, snapshots
from drills.mock.interview import Mock
from drills.visible import VisibleResult
from grader.errors import BadInput
from tests.mock.helpers import events, session_json

TOY_HINTS = (
    "Think about what to sort by.",
    "A key of (-value, index) gives the order you need.",
    "heapq.nsmallest with that key is O(n log k).",
)


SORTED_SOLUTION = (
    "def top_k_indices(xs: list[float], k: int) -> list[int]:\n"
    "    return sorted(range(len(xs)), key=lambda i: (-xs[i], i))[: max(k, 0)]\n"
)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drill: "), err
    return err[0]


def test_mock_start_records_the_start_and_the_starter(mock_ws: Path, toy_katas_dir: Path) -> None:
    assert session_json(mock_ws)["mode"] == "mock"
    (start,) = events(mock_ws, "start")
    assert start.data["kata"] == "top-k-indices" and start.data["limit_s"] == 1200
    starter = toy_katas_dir / "top-k-indices" / "starter" / "solution.py"
    assert snapshots.load(mock_ws, start.data["snapshot"]) == starter.read_text()


def test_hints_are_not_self_served(mock_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["hint", "--dir", str(mock_ws)]) == 2
    assert "hints come from your interviewer" in one_line_error(capsys)
    assert session_json(mock_ws)["hints"] == []


@pytest.fixture
def quick_tests(monkeypatch: pytest.MonkeyPatch) -> list[VisibleResult]:
    """`drill test` without pytest's start-up: the results to report, in order (real runs
    are in test_two_people and test_tmux)."""
    results: list[VisibleResult] = []
    monkeypatch.setattr(actions, "run_visible", lambda root, profile=False: results.pop(0))
    return results


def test_a_revealed_hint_reaches_status_and_test_once(
    mock_ws: Path, capsys: pytest.CaptureFixture[str], quick_tests: list[VisibleResult]
) -> None:
    quick_tests += [VisibleResult(1, 0, 1), VisibleResult(1, 0, 1)]
    assert run(["mock", "hint", "--yes", "--dir", str(mock_ws)]) == 0
    (hint,) = events(mock_ws, "hint")
    assert hint.by == "interviewer" and hint.data["index"] == 0
    assert [h["index"] for h in session_json(mock_ws)["hints"]] == [0]
    capsys.readouterr()
    assert run(["status", "--dir", str(mock_ws)]) == 0
    out = capsys.readouterr().out
    assert TOY_HINTS[0] in out and "mock interview" in out

    assert run(["mock", "hint", "--yes", "--dir", str(mock_ws)]) == 0
    capsys.readouterr()
    assert run(["test", "--dir", str(mock_ws)]) == 1  # the starter fails
    out = capsys.readouterr().out
    assert f"Hint 2 from your interviewer: {TOY_HINTS[1]}" in out
    assert TOY_HINTS[0] not in out  # status showed it already
    assert run(["test", "--dir", str(mock_ws)]) == 1
    assert "from your interviewer" not in capsys.readouterr().out


def test_each_test_run_is_in_the_timeline_with_a_snapshot(
    mock_ws: Path, quick_tests: list[VisibleResult]
) -> None:
    quick_tests += [VisibleResult(1, 0, 1), VisibleResult(0, 1, 0)]
    assert run(["test", "--dir", str(mock_ws)]) == 1
    (mock_ws / "solution.py").write_text(SORTED_SOLUTION)
    assert run(["test", "--dir", str(mock_ws)]) == 0
    runs = events(mock_ws, "test")
    assert [(e.data["passed"], e.data["failed"], e.data["ok"]) for e in runs] == [
        (0, 1, False),
        (1, 0, True),
    ]
    assert (
        snapshots.load(mock_ws, runs[1].data["snapshot"]) == (mock_ws / "solution.py").read_text()
    )
    assert runs[0].data["snapshot"] != runs[1].data["snapshot"]


def test_a_hint_revealed_while_the_tests_run_is_not_overwritten(
    mock: Mock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interviewer reveals a hint in the seconds `drill test` spends in pytest."""

    def slow_tests(root: Path, profile: bool = False) -> VisibleResult:
        interview.reveal_next_hint(mock)  # the other process, meanwhile
        return VisibleResult(1, 0, 1)

    monkeypatch.setattr(actions, "run_visible", slow_tests)
    actions.run_tests(mock.root)
    session = session_json(mock.root)
    assert [h["index"] for h in session["hints"]] == [0]
    assert session["last_test"]["failed"] == 1


def test_hints_in_the_timeline_are_restored_into_a_stale_session(mock: Mock) -> None:
    """Two machines synced by git: session.json came back without the interviewer's hint."""
    before = (mock.root / ".drill" / "session.json").read_text()
    interview.reveal_next_hint(mock)
    (mock.root / ".drill" / "session.json").write_text(before)
    assert run(["status", "--dir", str(mock.root)]) == 0
    assert [h["index"] for h in session_json(mock.root)["hints"]] == [0]


def test_the_ladder_ends(mock: Mock, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in TOY_HINTS:
        interview.reveal_next_hint(mock)
    capsys.readouterr()
    assert run(["mock", "hint", "--dir", str(mock.root)]) == 2
    assert "no hints left" in one_line_error(capsys)
    assert len(events(mock.root, "hint")) == 3


def test_scores_from_options_are_recorded_with_a_note(
    mock_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["mock", "score", "--dir", str(mock_ws), "--correctness", "3", "--testing", "2"]
    assert run([*args, "--note", "asked about ties first"]) == 0
    scores = {e.data["dimension"]: e.data["value"] for e in events(mock_ws, "score")}
    assert scores == {"correctness": 3, "testing": 2}
    (note,) = events(mock_ws, "note")
    assert note.data["text"] == "asked about ties first"
    assert "total 5/16" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mock", "score", "--correctness", "5"], "'--correctness'"),
        (["mock", "score"], "give the scores as options"),
        (["mock", "interviewer"], "use --print"),
    ],
)
def test_interviewer_commands_refuse_bad_input_in_one_line(
    mock_ws: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capsys.readouterr()
    assert run([*args, "--dir", str(mock_ws)]) == 2  # pytest's stdin is not a terminal
    assert message in one_line_error(capsys)


def test_mock_commands_refuse_a_practice_session(
    toy_katas_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "practice"
    assert run(["start", "top-k-indices", "--dir", str(ws)]) == 0
    capsys.readouterr()
    assert run(["mock", "interviewer", "--print", "--dir", str(ws)]) == 2
    assert "practice session, not a mock interview" in one_line_error(capsys)
    assert run(["mock", "start", "top-k-indices", "--resume", "--dir", str(ws)]) == 2
    assert "holds a practice session" in one_line_error(capsys)


def test_the_printout_has_every_section_of_the_console(
    mock: Mock, capsys: pytest.CaptureFixture[str]
) -> None:
    interview.reveal_next_hint(mock)
    interview.score(mock, "complexity", 3)
    capsys.readouterr()
    assert run(["mock", "interviewer", "--print", "--dir", str(mock.root)]) == 0
    out = capsys.readouterr().out
    for needle in (
        "PHASES",
        # interview.yaml plans 10 minutes; the session's 20 stretch every phase twofold
        "> clarify  0-4m",
        "code     4-16m",
        "Write `top_k_indices(xs: list[float], k: int) -> list[int]`",  # the prompt
        "Q1. What order do equal values come in?",
        "    Index order.",
        "1. [given at 0m",
        f"2. [not given] {TOY_HINTS[1]}",
        "Batch this across 1000 inputs and parallelise it.",
        "no test run yet",
        "Complexity and memory: 3/4",
        "  2  full sort",
        "Sorting by value only, losing index order on ties.",
    ):
        assert needle in out, needle


def test_resuming_a_mock_session_keeps_its_timeline(
    mock_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["mock", "hint", "--yes", "--dir", str(mock_ws)]) == 0
    assert run(["mock", "start", "top-k-indices", "--resume", "--dir", str(mock_ws)]) == 0
    kinds = [e.kind for e in events(mock_ws)]
    assert kinds == ["start", "hint", "resume"]


def test_drill_help_does_not_load_the_console() -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['drill', 'mock', '--help']\n"
        "try:\n    runpy.run_module('drills', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('textual', 'torch', 'numpy', 'mypy', 'memray') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr[-500:]
    for command in ("start", "interviewer", "hint", "score", "report", "replay"):
        assert command in result.stdout


def test_mock_start_refuses_to_overwrite(mock_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["mock", "start", "top-k-indices", "--dir", str(mock_ws)]) == 2
    line = one_line_error(capsys)
    assert "--resume" in line and "--force" in line
    assert len(events(mock_ws, "start")) == 1  # nothing was recorded either


def test_mock_hint_without_a_terminal_is_refused_unless_yes(
    mock_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["mock", "hint", "--dir", str(mock_ws)]) == 2  # pytest's stdin is no terminal
    line = one_line_error(capsys)
    assert line == "drill: hint 1 of 3 costs the candidate 5 points: pass --yes to reveal it"
    assert events(mock_ws, "hint") == [] and session_json(mock_ws)["hints"] == []
    assert run(["mock", "hint", "-y", "--dir", str(mock_ws)]) == 0
    assert len(events(mock_ws, "hint")) == 1


@pytest.mark.parametrize("answer", [False, True], ids=["no", "yes"])
def test_mock_hint_asks_before_it_charges_the_candidate(
    mock_ws: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: bool,
) -> None:
    import typer

    asked: list[str] = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return answer

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(typer, "confirm", confirm)
    capsys.readouterr()
    assert run(["mock", "hint", "--dir", str(mock_ws)]) == 0
    assert asked == ["Hint 1 of 3 costs the candidate 5 points. Reveal it?"]
    out = capsys.readouterr().out
    if answer:
        assert [e.data["index"] for e in events(mock_ws, "hint")] == [0]
        assert f"Revealed hint 1/3 to the candidate:\n{TOY_HINTS[0]}" in out
    else:
        assert events(mock_ws, "hint") == [] and session_json(mock_ws)["hints"] == []
        assert out.strip() == "No hint revealed; nothing was spent."


def test_a_hint_agreed_to_is_not_swapped_for_the_next_one(mock: Mock) -> None:
    """Two interviewer windows: while one asks, the other reveals the same hint."""
    agreed = interview.next_hint(mock)
    interview.reveal_next_hint(mock)  # the other window
    with pytest.raises(BadInput, match="hint 1 was revealed meanwhile"):
        interview.reveal_next_hint(mock, agreed)
    assert len(events(mock.root, "hint")) == 1
