"""How long the commands a candidate types take: start-up, `drill test`, `drill grade`.

Absolute wall times (these are budgets a person feels, not comparisons), medians of
several runs, each in a fresh process as a shell would start it. The cold grade uses an
empty cache folder, so mypy analyses torch from scratch; `drill start` normally warms
that cache in the background while the candidate reads the prompt.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Section, fmt_s
from grader.paths import BUILTIN_KATAS

KATA = "sampling"


def _drill(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "drills", *args], cwd=cwd, env=env, capture_output=True, check=False
    )
    return time.perf_counter() - start


def _median(args: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    return statistics.median(_drill(args, cwd, env) for _ in range(runs))


def run(device: str) -> Section:
    section = Section(
        "cli",
        "CLI: start-up, visible tests, grade (wall time, median)",
        ["command", "median", "runs", "budget"],
    )
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "DRILL_HOME": str(root / "home"), "DRILL_NO_WARM": "1"}
        section.add("drill --help", fmt_s(_median(["--help"], root, env, 15)), 15, "0.25 s")
        section.add("drill list", fmt_s(_median(["list"], root, env, 15)), 15, "0.25 s")
        _drill(["start", KATA, "--dir", "ws"], root, env)
        ws = root / "ws"
        shutil.copyfile(BUILTIN_KATAS / KATA / "model_answer.py", ws / "solution.py")
        section.add(f"drill test ({KATA})", fmt_s(_median(["test"], ws, env, 5)), 5, "4 s")
        cold_env = {**env, "DRILL_CACHE": str(root / "cold-cache")}
        section.add(
            f"drill grade ({KATA}, cold mypy cache)",
            fmt_s(_drill(["grade", "--device", device], ws, cold_env)),
            1,
            "30 s",
        )
        section.add(
            f"drill grade ({KATA}, warm)",
            fmt_s(_median(["grade", "--device", device], ws, cold_env, 3)),
            3,
            "8 s",
        )
    section.notes.append(
        f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    return section
