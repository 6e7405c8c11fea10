"""The grade: run the stages, concurrently where they can be, and build the report.

tests, types and the measurement child run at the same time (mypy beside pytest),
each in its own process; the parent reads their results, checks them, scores, and
returns a `Report` that every renderer reads.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from grader import native
from grader.checks import MEASURED, NAMES
from grader.context import GradeContext
from grader.errors import BadInput
from grader.kata import Kata
from grader.native import Build
from grader.paths import NotOwnFile, copy_own_file, off_limits
from grader.report import Check, Report, TestOutcome
from grader.sandbox import (
    ChildResult,
    Limits,
    Stopped,
    ZygoteProcess,
    start_servers,
    start_zygote,
    stop_all,
    stopping,
)
from grader.score import score
from grader.stages.diff import check_diff
from grader.stages.integration import check_integration
from grader.stages.measure import measured_device, run_measurements
from grader.stages.memory import check_memory
from grader.stages.speed import check_speed
from grader.stages.tests import check_tests
from grader.stages.types import check_types


def _wanted(kata: Kata, only: set[str] | None) -> list[str]:
    present = [c for c in NAMES if c in kata.weights]
    if only is None:
        return present
    unknown = only - set(NAMES)
    if unknown or not only:
        named = f"unknown check(s) {', '.join(sorted(unknown))}" if unknown else "no check named"
        raise BadInput(f"--only: {named}; choose from {', '.join(NAMES)}")
    chosen = [c for c in present if c in only]
    if not chosen:
        raise BadInput(
            f"--only: {kata.id} has no {' or '.join(sorted(only))} check;"
            f" its checks are {', '.join(present)}"
        )
    return chosen


def private_copy(solution: Path, workdir: Path) -> Path:
    if not solution.is_file():
        what = "is a folder, not a file" if solution.is_dir() else "does not exist"
        raise BadInput(f"{solution} {what}: the workspace needs its solution.py")
    solution_dir = workdir / "solution"
    solution_dir.mkdir()
    try:
        copy_own_file(solution, solution_dir / "solution.py")
    except NotOwnFile as exc:
        raise BadInput(str(exc)) from None
    return solution_dir


def grade(
    kata: Kata,
    solution: Path,
    *,
    device: str = "auto",
    only: set[str] | None = None,
    elapsed_s: float | None = None,
    limit_s: float | None = None,
    hints_taken: int = 0,
    strict_time: bool = False,
    zygote: ZygoteProcess | None = None,
    variant: str | None = None,
    first_failure_stops: bool = False,
) -> Report:
    """Grade `solution`. The grade's workers fork from `zygote` when one is given, already
    running under the same rules (`drill watch` keeps one warm); else from a zygote of
    the grade's own. `variant`: the planted bug a bug hunt's session was given.
    `first_failure_stops`: the hidden suite stops at its first failure and the tests
    not run fail (for `drill validate`, which asks only whether a variant is caught)."""
    wanted = _wanted(kata, only)
    if device == "cuda":
        require_cuda()
    with tempfile.TemporaryDirectory(prefix="drill-grade-") as tmp:
        workdir = Path(tmp)
        solution_dir = private_copy(solution, workdir)
        own = zygote is None
        start_servers(list(kata.preload) if own else None)
        if zygote is None:
            forbidden = [*off_limits(), solution.resolve().parent]
            zygote = start_zygote(workdir, list(kata.preload), forbidden)
        try:
            built = build_native(kata, solution, workdir, solution_dir, zygote)
            ctx = GradeContext(
                kata, workdir, solution_dir, device, zygote, built, first_failure_stops
            )
            checks, outcomes, used_device = _run_stages(ctx, wanted, variant)
            if stopping():  # stopped from another thread (quitting `drill watch`): no grade
                raise Stopped
        finally:
            if own:
                zygote.stop()
    total, penalty, passed = score(kata, checks, hints_taken)
    present = [c for c in NAMES if c in kata.weights]
    partial = wanted if wanted != present else None
    if partial is not None:
        # Of the checks that ran: each passed (the pass mark speaks of a full grade).
        passed = all(c.status in ("pass", "unmeasured") for c in checks.values())
    if strict_time and elapsed_s is not None and limit_s and elapsed_s > limit_s:
        passed = False  # the interview's clock is part of the grade
    return Report(
        kata=kata.id,
        score=total,
        passed=passed,
        elapsed_s=elapsed_s,
        limit_s=limit_s,
        hints_taken=hints_taken,
        hint_penalty=penalty,
        pass_mark=kata.pass_mark,
        checks=checks,
        tests=outcomes,
        device=used_device,
        graded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        partial=partial,
        strict_time=strict_time,
        variant=variant if kata.is_bug_hunt else None,
    )


def build_native(
    kata: Kata, solution: Path, workdir: Path, solution_dir: Path, zygote: ZygoteProcess
) -> Build | None:
    """The workspace's native/ C sources built beside the private copy of solution.py,
    for a kata that allows native code and a workspace that has some."""
    files = native.sources(solution.parent) if kata.native else []
    if not files:
        return None
    limits = Limits(cpu_s=native.BUILD_S, memory_mb=2048, processes=16, network=False)
    return native.build(files, workdir, solution_dir, zygote, limits.for_worker())


def require_cuda() -> None:
    """`--device cuda` where torch sees no GPU is bad input, not a grade on the CPU."""
    import subprocess
    import sys

    probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"
    found = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, check=False)
    if found.returncode != 0:
        raise BadInput("--device cuda: CUDA is not available (torch sees no CUDA device)")


def _run_stages(
    ctx: GradeContext, wanted: list[str], variant: str | None
) -> tuple[dict[str, Check], list[TestOutcome], str]:
    facts = ctx.facts
    unbuilt = ctx.native is not None and ctx.native.library is None
    runnable = not facts.syntax_error and not facts.forbidden_imports and not unbuilt
    measure = [c for c in MEASURED if c in wanted]
    pool = ThreadPoolExecutor(max_workers=3)
    not_needed = threading.Event()
    try:
        tests = pool.submit(check_tests, ctx) if "tests" in wanted else None
        types = pool.submit(check_types, ctx) if "types" in wanted else None
        probe = (
            pool.submit(
                run_measurements,
                ctx,
                "memory" in measure,
                "speed" in measure,
                not_needed,
                "integration" in measure,
            )
            if measure and runnable
            else None
        )
        if tests is not None and tests.exception() is None and tests.result()[0].status != "pass":
            # Memory, speed and integration only count once every hidden test passes: a failing
            # solution (perhaps one that hangs) is not measured for nothing.
            not_needed.set()
        for future in (tests, types, probe):
            if future is not None:
                future.exception()  # wait here, where Ctrl-C can reach us
    except BaseException:
        stop_all()  # Ctrl-C: stop the children so the stage threads end now
        raise
    finally:
        pool.shutdown(wait=True)
    checks: dict[str, Check] = {}
    outcomes: list[TestOutcome] = []
    if tests is not None:
        checks["tests"], outcomes = tests.result()
    if types is not None:
        checks["types"] = types.result()
    if "diff" in wanted:
        checks["diff"] = check_diff(ctx, variant)
    stage: dict[str, Callable[..., Check]] = {
        "memory": check_memory,
        "speed": check_speed,
        "integration": check_integration,
    }
    device = "cpu"  # where the hidden tests run; a measurement says where it ran
    for name in measure:
        checks[name] = _measured(name, stage[name], ctx, probe, checks.get("tests"))
    if probe is not None:
        device = measured_device(probe.result(), ctx.device)
    return {c: checks[c] for c in wanted}, outcomes, device


def _measured(
    name: str,
    fn: Callable[..., Check],
    ctx: GradeContext,
    probe: Future[ChildResult] | None,
    tests: Check | None,
) -> Check:
    if probe is None:
        why = (
            tests.reason
            if tests is not None and tests.status == "error"
            else "the solution cannot run"
        )
        return Check(name, "skip", reason=f"not measured: {why}")
    if tests is not None and tests.status != "pass":
        # Whether or not the measurement finished before the tests did, the verdict
        # must not depend on that race: a failing solution is not measured.
        failed = tests.details.get("failed", 0)
        return Check(
            name, "skip", reason=f"not measured: correctness first ({failed} hidden tests fail)"
        )
    return fn(ctx, probe.result())
