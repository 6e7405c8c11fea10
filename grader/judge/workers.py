"""The sessions a judge process opens: the candidate's solution, or a reference module.

Each worker gets a folder of its own under the grade's private directory (its cwd,
HOME and TMPDIR, and the only place it may write); the solution's folder is readable
to candidate workers, the reference's package and the kata's hidden folder only to
reference workers, which run no candidate code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.judge.client import WorkerSpec, ZygoteClient
from grader.judge.remote import Session

_serial = itertools.count(1)
ALONE = 2  # the zygote's process limit counts the worker: 2 leaves it no room for another


def _spec(
    config: dict[str, Any],
    label: str,
    module: str,
    path: list[str],
    read: list[str],
    alone: bool = False,
) -> Callable[[int], WorkerSpec]:
    # A measured worker runs alone: the CPU time charged to it is its own process's, so a
    # helper process could burn CPU beside the other side's turn without paying for it.
    limits = {**config["limits"], "processes": ALONE} if alone else config["limits"]

    def spec(generation: int) -> WorkerSpec:
        folder = Path(config["workers_dir"]) / f"{label}-{next(_serial)}"
        return WorkerSpec(
            module=module,
            path=path,
            folder=folder,
            limits=limits,
            read=read,
            network=bool(config.get("network")),
            env=dict(config.get("env", {})),
        )

    return spec


def candidate(
    zygote: ZygoteClient, config: dict[str, Any], label: str, alone: bool = False
) -> Session:
    solution_dir = config["solution_dir"]
    spec = _spec(config, label, "solution", [solution_dir], [solution_dir], alone)
    return Session(zygote, spec, float(config["import_timeout_s"]))


def reference(
    zygote: ZygoteClient, config: dict[str, Any], label: str, alone: bool = False
) -> Session:
    hidden = config["hidden_dir"]
    read = [hidden, *config["reference_read"]]
    spec = _spec(config, label, config["reference"], [hidden], read, alone)
    return Session(zygote, spec, float(config["import_timeout_s"]), label="the reference")


def baseline(
    zygote: ZygoteClient, config: dict[str, Any], label: str, alone: bool = False
) -> Session:
    """The kata's own starter (a speed-up kata's slow original), timed as a third side."""
    starter = config["starter_dir"]
    spec = _spec(config, label, "solution", [starter], [starter], alone)
    return Session(zygote, spec, float(config["import_timeout_s"]), label="the original")


# The judge process's zygote and config, for suites that start workers of their own
# (the ring kata's ranks): set once by `grader.judge.run_tests`.
_current: tuple[ZygoteClient, dict[str, Any]] | None = None


def install(zygote: ZygoteClient, config: dict[str, Any]) -> None:
    global _current
    _current = (zygote, config)


def new_candidate(label: str) -> Session:
    """A fresh session of the solution, beside the suite's own (`import solution`)."""
    if _current is None:
        raise RuntimeError("this judge process has no zygote (a collect-only run?)")
    return candidate(*_current, label)


def solution_source() -> str:
    """The text of solution.py (read, never run, here): for checks of what it calls."""
    if _current is None:
        raise RuntimeError("this judge process has no solution")
    return (Path(_current[1]["solution_dir"]) / "solution.py").read_text(
        encoding="utf-8", errors="replace"
    )
