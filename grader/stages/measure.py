"""Run the memory, speed and integration cases in one judge process (one torch import).

The judge (`grader.judge.run_measure`) drives a candidate worker and a reference worker;
the stages `grader.stages.memory`, `speed` and `integration` each read their own
records from its result; this module only launches it.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from grader.context import GradeContext
from grader.sandbox import ChildResult, run_child

DEADLINE_S = 150.0


def run_measurements(
    ctx: GradeContext,
    memory: bool,
    speed: bool,
    cancel: threading.Event | None = None,
    integration: bool = False,
) -> ChildResult:
    kata = ctx.kata
    config: dict[str, Any] = {
        **ctx.judge_config("measure", DEADLINE_S),
        "import_timeout_s": kata.import_timeout_s,
        "device": ctx.device,
        "memory": dataclasses.asdict(kata.memory) if memory and kata.memory else None,
        "speed": dataclasses.asdict(kata.speed) if speed and kata.speed else None,
        "integration": dataclasses.asdict(kata.integration)
        if integration and kata.integration
        else None,
    }
    return run_child(
        "grader.judge.run_measure",
        config,
        ctx.stage_dir("measure"),
        deadline_s=DEADLINE_S,
        cancel=cancel,
        zygote_fd=ctx.zygote.new_client(),
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
