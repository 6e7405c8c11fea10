"""The two people of a mock interview, each as its own process, for the two-process test.

    python -m tests.mock.roles candidate WS MODEL_ANSWER OUT_DIR
    python -m tests.mock.roles interviewer WS

The candidate runs the real `drill` commands; the interviewer drives the console headless
(Textual's pilot). They share nothing but the workspace folder, and each waits for the
other only by watching what the other wrote there.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

TIMEOUT_S = 120.0


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def drill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drills", *args], capture_output=True, text=True, timeout=300
    )


def candidate(ws: Path, model_answer: Path, out: Path) -> int:
    first = drill("test", "--dir", str(ws))
    if first.returncode != 1:
        raise SystemExit(f"the starter should fail its visible test: {first.stdout}{first.stderr}")

    def hinted() -> bool:
        return bool(json.loads((ws / ".drill" / "session.json").read_text())["hints"])

    wait_for("a hint from the interviewer", hinted)
    shutil.copyfile(model_answer, ws / "solution.py")
    second = drill("test", "--dir", str(ws))
    (out / "second-test.txt").write_text(second.stdout)
    graded = drill(
        "grade",
        "--dir",
        str(ws),
        "--only",
        "tests,types",
        "--format",
        "json",
        "--output",
        str(out / "grade.json"),
    )
    if second.returncode != 0 or graded.returncode != 0:
        raise SystemExit(f"expected passes: {second.stdout}{graded.stdout}{graded.stderr}")
    return 0


def interviewer(ws: Path) -> int:
    from textual.widgets import Static

    from drills.mock.console import InterviewerConsole
    from drills.mock.interview import open_mock

    async def main() -> None:
        app = InterviewerConsole(open_mock(ws))
        async with app.run_test(size=(120, 40)) as pilot:

            async def until(what: str, needle: str) -> None:
                deadline = time.monotonic() + TIMEOUT_S
                while needle not in str(app.query_one("#candidate", Static).content):
                    if time.monotonic() > deadline:
                        raise SystemExit(f"timed out waiting for {what}")
                    await pilot.pause(0.3)

            await until("the failing test", "0 passed, 1 failed")
            await pilot.press("h", "y", "n")  # a hint; on to coding
            await until("the partial grade", "grade --only at")  # no score: not a grade
            await pilot.press("f", "s", "3", "4", "3", "2")
            await pilot.press("o", *"asked about ties before coding", "enter")
            await pilot.press("q")

    asyncio.run(main())
    return 0


if __name__ == "__main__":
    role, ws = sys.argv[1], Path(sys.argv[2])
    if role == "candidate":
        sys.exit(candidate(ws, Path(sys.argv[3]), Path(sys.argv[4])))
    sys.exit(interviewer(ws))
