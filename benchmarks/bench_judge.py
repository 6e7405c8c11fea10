"""The judge's costs: a call across the judge-worker channel, and a warm grade of each kata.

Channel: a worker forked from a zygote (torch loaded, sandboxed as in a grade) serving
a module of two functions; the judge times round trips: an empty request, a call with
small arguments, a 4 MB float32 tensor sent, and the same tensor sent and returned.

Grades: `drill grade` of each kata's model answer, warm (mypy cache and expected test ids
already built by one grade first), wall time as a user feels it. Validations: `drill
validate KATA`, which grades the model answer, the starter and every known-wrong variant
in one process (where the fork servers' imports are paid once). With
`DRILL_BENCH_BASELINE_PYTHON` set to the interpreter of an environment where an
earlier drill is installed (`DRILL_BENCH_BASELINE_NAME` says which), the same work is
done by it too, the two alternating run by run so that both see the same machine.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Section, fmt_s
from grader.kata import kata_ids, load_kata
from grader.mutants import load_mutants
from grader.paths import BUILTIN_KATAS, off_limits

PROBE = "def echo(x):\n    return x\n\ndef take(x):\n    return None\n"
LIMITS = {"cpu_s": 600, "memory_mb": 4096, "file_mb": 64, "open_files": 512, "processes": 16}


def _median_s(fn: object, runs: int) -> float:
    assert callable(fn)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def channel(section: Section) -> None:
    import torch

    from grader.judge.client import WorkerSpec, ZygoteClient
    from grader.judge.remote import Session
    from grader.sandbox import start_zygote

    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        root = Path(tmp)
        (root / "solution").mkdir()
        (root / "solution" / "solution.py").write_text(PROBE)
        zygote = start_zygote(root, ["torch"], off_limits())
        client = ZygoteClient(zygote.new_client())

        def spec(n: int) -> WorkerSpec:
            folder = root / f"w{n}"
            return WorkerSpec("solution", [str(root / "solution")], folder, LIMITS, [str(root)])

        session = Session(client, spec, import_timeout_s=60)
        sol = session.module
        big = torch.randn(1 << 20)  # 4 MiB of float32
        try:
            sol.echo(1)
            for _ in range(200):  # the worker's first calls touch copy-on-write pages
                sol.echo(1)
            cases = [
                ("empty request (ping)", lambda: session.request({"op": "ping"}), 1000),
                ("call, small arguments and result", lambda: sol.echo([1, 2.0, "x"]), 1000),
                ("call, 4 MiB tensor argument", lambda: sol.take(big), 50),
                ("call, 4 MiB tensor argument and result", lambda: sol.echo(big), 50),
            ]
            for what, fn, runs in cases:
                section.add(f"channel: {what}", fmt_s(_median_s(fn, runs)), runs, "")
        finally:
            session.close()
            client.sock.close()
            zygote.stop()


def _grade(python: str, ws: Path, env: dict[str, str]) -> tuple[float, float | None]:
    start = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "drills", "grade", "--format", "json"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    try:
        score = float(json.loads(done.stdout)["score"])
    except (ValueError, KeyError):
        score = None
    return took, score


def grades(section: Section, runs: int = 3) -> None:
    baseline = os.environ.get("DRILL_BENCH_BASELINE_PYTHON")
    pythons = {"this": sys.executable, **({"baseline": baseline} if baseline else {})}
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "DRILL_HOME": str(root / "home"), "DRILL_NO_WARM": "1"}
        env.pop("DRILL_KATAS", None)
        for kata in kata_ids(BUILTIN_KATAS):
            ws = root / kata
            subprocess.run(
                [sys.executable, "-m", "drills", "start", kata, "--dir", str(ws)],
                env=env,
                capture_output=True,
                check=True,
            )
            shutil.copyfile(BUILTIN_KATAS / kata / "model_answer.py", ws / "solution.py")
            times: dict[str, list[float]] = {name: [] for name in pythons}
            scores: dict[str, set[float | None]] = {name: set() for name in pythons}
            for python in pythons.values():
                _grade(python, ws, env)  # warm: mypy's cache, the suite's manifest
            for _ in range(runs):
                for name, python in pythons.items():
                    took, score = _grade(python, ws, env)
                    times[name].append(took)
                    scores[name].add(score)
            this = statistics.median(times["this"])
            notes = _scores(scores["this"])
            if baseline:
                before = statistics.median(times["baseline"])
                notes += f"; baseline {fmt_s(before)} ({_scores(scores['baseline'])})"
            section.add(f"warm grade: {kata}", fmt_s(this), runs, notes)


VALIDATED = ("sampling", "kv-cache")


def validations(section: Section, runs: int = 2) -> None:
    baseline = os.environ.get("DRILL_BENCH_BASELINE_PYTHON")
    pythons = {"this": sys.executable, **({"baseline": baseline} if baseline else {})}
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        env = {**os.environ, "DRILL_HOME": str(Path(tmp) / "home")}
        env.pop("DRILL_KATAS", None)
        for kata in VALIDATED:
            times: dict[str, list[float]] = {name: [] for name in pythons}
            ok: dict[str, set[bool]] = {name: set() for name in pythons}
            for _ in range(runs):
                for name, python in pythons.items():
                    start = time.perf_counter()
                    done = subprocess.run(
                        [python, "-m", "drills", "validate", kata],
                        cwd=tmp,  # not a checkout: -m would import the drill found there
                        env=env,
                        capture_output=True,
                        check=False,
                    )
                    times[name].append(time.perf_counter() - start)
                    ok[name].add(done.returncode == 0)
            grades = 2 + len(load_mutants(load_kata(kata)))
            notes = f"{grades} grades; {_verdicts(ok['this'])}"
            if baseline:
                before = statistics.median(times["baseline"])
                notes += f"; baseline {fmt_s(before)} ({_verdicts(ok['baseline'])})"
            this = statistics.median(times["this"])
            section.add(f"drill validate {kata}", fmt_s(this), runs, notes)


def _verdicts(ok: set[bool]) -> str:
    return "/".join("valid" if v else "NOT valid" for v in sorted(ok))


def _scores(scores: set[float | None]) -> str:
    return "score " + "/".join("-" if s is None else f"{s:g}" for s in sorted(scores, key=str))


def run(device: str) -> Section:
    section = Section(
        "judge",
        "The judge: channel round trips, warm grades and validations (wall time, median)",
        ["what", "median", "runs", "notes"],
    )
    channel(section)
    grades(section)
    validations(section)
    baseline = os.environ.get("DRILL_BENCH_BASELINE_PYTHON")
    name = os.environ.get("DRILL_BENCH_BASELINE_NAME", "an earlier drill")
    section.notes.append(
        "Baseline: "
        + (
            f"{name}, run alternately with this one on the same work."
            if baseline
            else "none given (set DRILL_BENCH_BASELINE_PYTHON to compare)."
        )
    )
    section.notes.append(
        "The machine line's torch threads are this process's; workers run with one thread "
        "(and so does the reference's worker, which the ratios compare against)."
    )
    section.notes.append(
        f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    return section
