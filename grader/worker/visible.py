"""A worker that runs pytest on the candidate's own visible tests (`drill test`, `drill watch`).

The zygote forks it, sandboxes it like any worker (`grader.worker.zygote`), and calls
`run` instead of the judge's loop. What it runs is the candidate's code only: their
tests and their solution, nothing of the kata's. pytest's arguments come from the
parent (`drills/visible.py`), which also reads the results from the junit file the run
leaves in the worker's folder: what the tests report is the candidate's own business,
and nothing here is trusted by a grade.

With `profile`, the run is under cProfile and ends with where the time went: the
solution's own functions by cumulative time, then every function by its own time.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import types
from collections.abc import Generator
from typing import Any

TOP = 12  # rows per table
# pytest's own frames are the harness, not the candidate's work
HARNESS = ("_pytest", "pluggy", "pytest_timeout")


def run(request: dict[str, Any]) -> int:
    """Run pytest as `python -m pytest` would in the workspace; its exit status."""
    # The zygote is `__main__` here, and multiprocessing's spawn re-imports `__main__` in
    # each child it starts; the zygote's module cannot be read from the sandbox. An empty
    # `__main__` is what an interactive interpreter has: spawn then imports nothing.
    sys.modules["__main__"] = types.ModuleType("__main__")
    os.chdir(request["cwd"])  # relative paths in the tests mean the workspace, as in a shell
    import pytest

    argv = list(request["argv"])
    if request.get("profile"):
        profiler = cProfile.Profile()
        code = pytest.main(argv, plugins=[_profile_test_bodies(profiler)])
        solution = os.path.join(request["cwd"], "solution.py")
        if profiler.getstats():
            print(profile_report(pstats.Stats(profiler), solution))
        else:
            print("\nNothing was profiled: no test body ran.")
    else:
        code = pytest.main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code)


def _profile_test_bodies(profiler: cProfile.Profile) -> object:
    """A pytest plugin: the profiler runs while a test's body runs, not while pytest
    collects, rewrites asserts or reports."""
    import pytest

    class ProfileTestBodies:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_call(self) -> Generator[None, object, object]:
            profiler.enable()
            try:
                return (yield)
            finally:
                profiler.disable()

    return ProfileTestBodies()


def profile_report(stats: pstats.Stats, solution: str) -> str:
    """Two plain tables: the solution's functions by cumulative time, then the heaviest
    functions by their own time (pytest's frames left out)."""
    rows = [
        (where, calls, own, total)
        for where, (_, calls, own, total, _) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    mine = sorted((r for r in rows if r[0][0] == solution), key=lambda r: -r[3])[:TOP]
    heavy = [r for r in rows if not any(h in r[0][0] for h in HARNESS)]
    heavy = sorted(heavy, key=lambda r: -r[2])[:TOP]
    lines = ["", "Where the time went (cProfile over the visible tests' bodies; it slows calls)"]
    lines += _table("solution.py, by cumulative time (the function and what it calls)", mine)
    lines += _table("every function, by its own time", heavy)
    return "\n".join(lines)


def _table(title: str, rows: list[tuple[tuple[str, int, str], int, float, float]]) -> list[str]:
    out = ["", f"  {title}:", f"  {'cumulative':>11} {'own':>10} {'calls':>8}  function"]
    for (filename, line, name), calls, own, total in rows:
        where = f"{os.path.basename(filename)}:{line}" if line else "built-in"
        out.append(f"  {total:>9.3f} s {own:>8.3f} s {calls:>8}  {name} ({where})")
    if not rows:
        out.append("  (none)")
    return out
