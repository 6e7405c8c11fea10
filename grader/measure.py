"""Run the memory, speed and integration cases in one sandboxed child (one torch import).

The stages `grader.memory` and `grader.speed` each read their own records from the
result; this module only launches the child.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from grader.context import GradeContext
from grader.sandbox import ChildResult, run_child

DEADLINE_S = 150.0
IMPORT_LIMIT_S = 60.0


class _SlowImport:
    """Watchdog: importing solution.py (with torch) must not take longer than the limit."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.started = time.monotonic()

    def __call__(self, records: list[dict[str, Any]]) -> str:
        if time.monotonic() - self.started < self.limit_s:
            return ""
        if any(r.get("kind") in ("imported", "import_error") for r in records):
            return ""
        return f"importing solution.py took longer than {self.limit_s:.0f} s"


def run_measurements(
    ctx: GradeContext,
    memory: bool,
    speed: bool,
    cancel: threading.Event | None = None,
    integration: bool = False,
) -> ChildResult:
    kata = ctx.kata
    config: dict[str, Any] = {
        "solution_dir": str(ctx.solution_dir),
        "hidden_dir": str(kata.hidden_dir),
        "reference": kata.reference,
        "device": ctx.device,
        "memory": dataclasses.asdict(kata.memory) if memory and kata.memory else None,
        "speed": dataclasses.asdict(kata.speed) if speed and kata.speed else None,
        "integration": dataclasses.asdict(kata.integration)
        if integration and kata.integration
        else None,
    }
    return run_child(
        "grader.child_measure",
        config,
        ctx.stage_dir("measure"),
        ctx.limits(DEADLINE_S),
        deadline_s=DEADLINE_S,
        watchdog=_SlowImport(min(IMPORT_LIMIT_S, kata.test_deadline_s / 2)),
        cancel=cancel,
    )


def first(result: ChildResult, kind: str, **match: object) -> dict[str, Any] | None:
    for record in result.records:
        if record.get("kind") == kind and all(record.get(k) == v for k, v in match.items()):
            return record
    return None


def measured_device(result: ChildResult, default: str) -> str:
    record = first(result, "device")
    return str(record["device"]) if record else default


def failure(result: ChildResult, what: str) -> str:
    """Why the child gave no record of `what`: import error, fatal error, crash or hang."""
    for kind in ("import_error", "fatal"):
        record = first(result, kind)
        if record:
            prefix = (
                "solution could not be imported" if kind == "import_error" else "could not measure"
            )
            return f"{prefix}: {record['error']}"
    if "Memray ERROR" in result.output_tail:
        return f"the memory profiler failed while measuring {what}"
    return f"{what} not measured: {result.exit_description()}"
