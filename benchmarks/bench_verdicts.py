"""Do memory and speed verdicts hold on a busy machine?

The kv-cache model answer and its `cat_into_buffer` mutant (right answers, a copy of
the cache on every append) are graded several times on a quiet machine, then as many
times two grades at a time beside a process that keeps a core busy. For each: the
verdicts, the spread of the speed ratio and of the growth, and how much the
reference's own times varied within a measurement.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import Section
from grader.kata import load_kata_from
from grader.mutants import mutant_named, mutated_source
from grader.paths import BUILTIN_KATAS

KATA = load_kata_from(BUILTIN_KATAS / "kv-cache")
SOLUTIONS = {
    "model answer": KATA.model_answer.read_text(encoding="utf-8"),
    "cat_into_buffer": mutated_source(KATA, mutant_named(KATA, "cat_into_buffer")),
}
RUNS = 4


def _drill(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drills", *args], env=env, capture_output=True, text=True
    )


def _grades(root: Path, env: dict[str, str], workers: int) -> list[dict[str, Any]]:
    done = _drill(
        ["grade", "--batch", str(root), "--workers", str(workers),
         "--only", "tests,memory,speed", "--format", "json"],
        env,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines()]


def _row(section: Section, label: str, reports: list[dict[str, Any]]) -> None:
    memory = [r["checks"]["memory"] for r in reports]
    speed = [r["checks"]["speed"] for r in reports]
    verdicts = (
        f"memory {_count(m['status'] for m in memory)}; speed {_count(s['status'] for s in speed)}"
    )
    ratios = [float(s["ratio"]) for s in speed if "ratio" in s]
    growth = [float(s["growth"]) for s in speed if "growth" in s]
    spreads = [float(s.get("reference_spread", 0.0)) for s in speed if "ratio" in s]
    section.add(
        label,
        verdicts,
        _range(ratios),
        _range(growth),
        f"{statistics.median(spreads):.2f}" if spreads else "-",
    )


def _count(statuses: Any) -> str:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}x" if values else "-"


def run(device: str) -> Section:
    section = Section(
        "verdicts",
        "Memory and speed verdicts, quiet and under load (kv-cache, CPU)",
        ["solution, machine", "verdicts", "speed ratio", "growth 1k to 8k", "reference spread"],
    )
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        env = {**os.environ, "DRILL_HOME": str(Path(tmp) / "home"), "DRILL_NO_WARM": "1"}
        env.pop("DRILL_KATAS", None)
        for name, source in SOLUTIONS.items():
            root = Path(tmp) / name.replace(" ", "-")
            for i in range(RUNS):
                ws = root / f"ws{i}"
                _drill(["start", "kv-cache", "--dir", str(ws)], env)
                (ws / "solution.py").write_text(source, encoding="utf-8")
            _grades(root, env, workers=1)  # warm: mypy's cache, the manifest
            _row(section, f"{name}, quiet (one grade at a time)", _grades(root, env, workers=1))
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                loaded = _grades(root, env, workers=2)
            finally:
                hog.kill()
                hog.wait()
            _row(section, f"{name}, two grades at once beside a busy core", loaded)
    section.notes.append(
        f"{RUNS} grades per row. The machine lets one grade measure at a time; the others "
        "wait for it (tests and mypy run meanwhile). Reference spread: how far the reference's two "
        "blocks of a round differed, relative (the same work moments apart; the median over a "
        "measurement's rounds, then over the row's grades); a ratio near its budget counts as "
        "unmeasured only when this is over 0.20."
    )
    section.notes.append(
        f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    return section
