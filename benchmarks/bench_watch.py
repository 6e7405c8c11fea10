"""`drill test` cold against a re-run in `drill watch`, and a grade with and without the
watch's warm zygote, on the kv-cache kata.

Rounds alternate, in one run: each round saves solution.py (the model answer and the
starter in turn, so every save changes what the screen shows), times the save until
`drill watch`, in a pseudo-terminal, shows the new counts, then times `drill test` on
the same solution in a fresh process, as a shell starts it. The grades are the same
`actions.grade` call in this process, with a zygote of its own (what `drill grade`
does) and with the watch's runner's warm one, alternating after one grade that
warms mypy's cache.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.paths import BUILTIN_KATAS

KATA = "kv-cache"
ROUNDS = 8
GRADE_ROUNDS = 3


def _cold_test(ws: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "drills", "test"], cwd=ws, env=env, capture_output=True, check=False
    )
    return time.perf_counter() - start


def _tests(root: Path, env: dict[str, str]) -> tuple[list[float], list[float], list[float]]:
    """(cold `drill test` times, save-to-screen times in the watch, the watch's own
    run times as its screen shows them), round by round."""
    from tests.terminal import Terminal

    ws = root / "ws"
    answers = [  # what the screen shows for it, and a solution
        (r"3 passed, 0 failed", (BUILTIN_KATAS / KATA / "model_answer.py").read_text()),
        (r"0 passed, 3 failed", (BUILTIN_KATAS / KATA / "starter" / "solution.py").read_text()),
    ]
    cold, warm, runs = [], [], []
    term = Terminal(["watch", "--dir", str(ws)], env=env)
    try:
        term.wait_for(r"0 passed, 3 failed")  # the first run: the zygote has loaded torch
        for i in range(ROUNDS):
            counts, text = answers[i % 2]  # the starter is on screen when the watch starts
            since = term.mark()
            start = time.perf_counter()
            (ws / "solution.py").write_text(text)
            screen = term.wait_for(counts + r" at \S+ \((\d+\.\d+) s\)", since)
            warm.append(time.perf_counter() - start)
            found = re.findall(counts + r" at \S+ \((\d+\.\d+) s\)", screen)
            runs.append(float(found[-1]))
            cold.append(_cold_test(ws, env))
        term.type(b"q")
        term.wait()
    finally:
        term.close()
    return cold, warm, runs


def _grades(root: Path, device: str) -> tuple[list[float], list[float]]:
    """(grades with a zygote of their own, grades from the watch's warm zygote)."""
    from drills import actions
    from drills.visible import VisibleRunner
    from grader.kata import load_kata

    ws = root / "ws"
    shutil.copyfile(BUILTIN_KATAS / KATA / "model_answer.py", ws / "solution.py")
    own, warm = [], []
    with VisibleRunner(ws, load_kata(KATA)) as runner:
        runner.run()  # the zygote has loaded torch, as in a watch
        actions.grade(ws, device=device, only=None)  # mypy's cache and the expected test ids
        for _ in range(GRADE_ROUNDS):
            start = time.perf_counter()
            actions.grade(ws, device=device, only=None)
            own.append(time.perf_counter() - start)
            start = time.perf_counter()
            actions.grade(ws, device=device, only=None, zygote=runner.zygote)
            warm.append(time.perf_counter() - start)
    return own, warm


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(device: str) -> Section:
    section = Section(
        "watch",
        f"drill test cold vs a re-run in drill watch, and grades from its warm zygote ({KATA})",
        ["what", "cold", "warm", "cold / warm", "rounds"],
    )
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "DRILL_HOME": str(root / "home"),
            "DRILL_CACHE": str(root / "cache"),
            "DRILL_NO_WARM": "1",
        }
        subprocess.run(
            [sys.executable, "-m", "drills", "start", KATA, "--dir", "ws"],
            cwd=root,
            env=env,
            capture_output=True,
            check=True,
        )
        cold, warm, runs = _tests(root, env)
        ratios = [c / w for c, w in zip(cold, warm, strict=True)]
        section.add(
            "drill test (fresh process) vs a save in drill watch, until the screen shows it",
            fmt_s(statistics.median(cold)),
            fmt_s(statistics.median(warm)),
            fmt_ratio(statistics.median(ratios)),
            ROUNDS,
        )
        with _environ(env):  # the grades run in this process
            own, warm_grades = _grades(root, device)
        grade_ratios = [o / w for o, w in zip(own, warm_grades, strict=True)]
        section.add(
            "a grade, its own zygote vs the watch's (actions.grade, model answer)",
            fmt_s(statistics.median(own)),
            fmt_s(statistics.median(warm_grades)),
            fmt_ratio(statistics.median(grade_ratios)),
            GRADE_ROUNDS,
        )
    section.notes += [
        f"Of a warm save's time, the run itself (fork, pytest, the junit file read back) "
        f"took {statistics.median(runs):.2f} s, as the watch's screen shows it; the rest is "
        "the file watcher and drawing the screen. Saves alternate between the model answer "
        "(3 passed) and the starter (3 failed); times are medians, the ratio the median of "
        "each round's.",
        "The cold `drill test` starts an interpreter, imports drill, starts a zygote that "
        "imports pytest and torch, and forks one run: the same sandbox as the watch's runs.",
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
    ]
    return section
