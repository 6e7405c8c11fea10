"""The real `drill` executable in a terminal, as a person uses it: tmux send-keys, capture-pane.

Each test runs its own tmux server on a private socket and kills it afterwards. The
command in the pane is followed by `echo EXITED=$?`, so the screen shows how it ended.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.mock.helpers import events, session_json

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="needs tmux to drive a real terminal")
ENV_VARS = ("DRILL_KATAS", "DRILL_HOME", "DRILL_NO_WATCH", "DRILL_NO_WARM", "DRILL_CACHE")


def drill_executable() -> str:
    found = shutil.which("drill", path=str(Path(sys.executable).parent)) or shutil.which("drill")
    if found is None:
        pytest.fail("the `drill` console script is not installed (pip install -e .)")
    return found


class Tmux:
    def __init__(self) -> None:
        self.socket = f"drill-mock-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TMUX), "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start(self, command: str, cwd: Path) -> None:
        env = [f"-e{k}={os.environ[k]}" for k in ENV_VARS if k in os.environ]
        shell = f"{command}; echo EXITED=$?; sleep 600"
        done = self(
            "new-session", "-d", "-s", "main", "-x", "80", "-y", "24", "-c", str(cwd), *env, shell
        )
        assert done.returncode == 0, done.stderr

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "main").stdout

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "main", *keys)

    def wait_for(self, needle: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            screen = self.screen()
            if needle in screen:
                return screen
            assert time.monotonic() < deadline, f"{needle!r} never appeared:\n{screen}"
            time.sleep(0.2)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    try:
        yield t
    finally:
        t("kill-server")
        tmpdir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (tmpdir / t.socket).unlink(missing_ok=True)  # tmux may leave its socket file


def until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_console_in_a_terminal_reveals_scores_and_survives_ctrl_c(
    tmux: Tmux, mock_ws: Path
) -> None:
    drill = drill_executable()
    tmux.start(f"{drill} mock interviewer --dir {mock_ws}", mock_ws)
    screen = tmux.wait_for("q Quit")
    # every key is on screen, even in an 80x24 terminal
    assert "h Hint  n Next phase  f Follow-up  s Score  o Note  e Estimate  q Quit" in screen
    assert "1 Prompt 2 Q&A 3 Hints 4 Follow 5 Rubric 6 Traps" in screen
    assert "Indices of the k largest values" in screen

    candidate = subprocess.run(
        [drill, "test", "--dir", str(mock_ws)], capture_output=True, timeout=120
    )
    assert candidate.returncode == 1
    tmux.wait_for("0 passed, 1 failed")

    tmux.keys("h")
    tmux.wait_for("Reveal hint 1/3 to the candidate?")
    tmux.keys("y")
    tmux.wait_for("1. [given at")
    tmux.keys("s")
    tmux.wait_for("Score 1/4: Correctness and edge cases")
    tmux.keys("3")
    tmux.wait_for("Score 2/4: Code quality and types")
    tmux.keys("4")
    until(lambda: len(events(mock_ws, "score")) == 2)

    tmux.keys("C-c")
    tmux.wait_for("EXITED=0")
    assert [h["index"] for h in session_json(mock_ws)["hints"]] == [0]
    scores = [(e.data["dimension"], e.data["value"]) for e in events(mock_ws, "score")]
    assert scores == [("correctness", 3), ("code_quality", 4)]


def test_interactive_scoring_interrupted_keeps_every_score_given(tmux: Tmux, mock_ws: Path) -> None:
    tmux.start(f"{drill_executable()} mock score --dir {mock_ws}", mock_ws)
    tmux.wait_for("2  misses ties")  # the anchors are shown
    tmux.keys("3", "Enter")
    tmux.wait_for("Code quality and types")
    tmux.keys("2", "Enter")
    tmux.wait_for("Complexity and memory")
    tmux.keys("C-c")
    screen = tmux.wait_for("EXITED=130")
    assert "every score given so far is saved" in screen
    scores = [(e.data["dimension"], e.data["value"]) for e in events(mock_ws, "score")]
    assert scores == [("correctness", 3), ("code_quality", 2)]


def test_the_candidate_interrupting_drill_test_leaves_the_timeline_whole(
    tmux: Tmux, mock_ws: Path, request: pytest.FixtureRequest
) -> None:
    # The visible tests run sandboxed: they may write their own temporary folders and
    # /dev/shm, not the workspace.
    started = Path("/dev/shm") / f"drill-tests-started-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: started.unlink(missing_ok=True))
    (mock_ws / "solution.py").write_text(
        f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)\n"
    )
    before = (mock_ws / ".drill" / "mock" / "timeline.jsonl").read_bytes()
    tmux.start(f"{drill_executable()} test --dir {mock_ws}", mock_ws)
    until(started.exists, 60)
    tmux.keys("C-c")
    tmux.wait_for("EXITED=130")
    after = (mock_ws / ".drill" / "mock" / "timeline.jsonl").read_bytes()
    assert after.startswith(before) and after.endswith(b"\n")
    assert session_json(mock_ws)["mode"] == "mock"  # still a whole session file
    assert events(mock_ws, "test") == []  # an interrupted run is not a result
