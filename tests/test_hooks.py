"""The hooks a session's mode adds to the candidate's commands (drills/hooks.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from drills.hooks import SessionHooks, hooks_for
from drills.mock.hooks import MockHooks
from drills.workspace import Mode, start
from grader.kata import Kata

REPO = Path(__file__).resolve().parent.parent


def test_each_mode_gets_its_own_hooks(toy_kata: Kata, tmp_path: Path) -> None:
    ws = start(toy_kata, tmp_path / "ws", 600, force=False, resume=False).workspace
    session = ws.load()
    chosen = {mode: type(hooks_for(ws, replace(session, mode=mode))) for mode in Mode}
    assert chosen == {Mode.PRACTICE: SessionHooks, Mode.MOCK: MockHooks}


# Every practice command of a candidate, in a fresh interpreter: the grader and the
# visible tests are stood in for, so this takes a second.
PRACTICE_COMMANDS = """
import sys
from pathlib import Path

import grader.pipeline
from drills import actions
from drills.visible import VisibleResult
from tests.test_history import make_report

ws = Path(sys.argv[1])
actions.run_visible = lambda root, profile=False: VisibleResult(0, 2, 0)
grader.pipeline.grade = lambda kata, solution, **kw: make_report(90, "top-k-indices")
actions.status(ws)
actions.run_tests(ws)
actions.new_hints(ws)
actions.take_hint(ws)
actions.grade(ws, device="cpu", only=None)
print(sorted(m for m in sys.modules if m.startswith("drills.mock")))
"""


def test_practice_commands_never_load_the_mock_interview(
    toy_katas_dir: Path, toy_kata: Kata, tmp_path: Path
) -> None:
    """No mock code runs in practice: not its hooks, not its store (nor the store's lock)."""
    ws = tmp_path / "ws"
    start(toy_kata, ws, 600, force=False, resume=False)
    run = subprocess.run(
        [sys.executable, "-c", PRACTICE_COMMANDS, str(ws)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    session = json.loads((ws / ".drill" / "session.json").read_text())
    assert session["mode"] == "practice"
    assert session["last_test"]["passed"] == 2 and session["last_grade"]["score"] == 90
    assert [h["index"] for h in session["hints"]] == [0]
