"""`drill grade --batch DIR`: grade every workspace under DIR, a few at a time.

For a course or a hiring pipeline. Each workspace is graded on its own (a broken one
gives an error line and never stops the rest); results are returned in a stable order.
Batch grades are not written to the grader's own history, nor into the workspaces.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.workspace import SESSION_FILE, Workspace
from grader.errors import BadInput, DrillError
from grader.kata import load_kata
from grader.report import Report
from grader.sandbox import stop_all

MAX_DEPTH = 4


@dataclass(frozen=True)
class BatchResult:
    workspace: Path
    report: Report | None
    error: str = ""
    skipped: str = ""  # why this folder was not graded

    def to_json(self) -> dict[str, Any]:
        if self.skipped:
            return {"workspace": str(self.workspace), "skipped": self.skipped, "passed": False}
        if self.report is None:
            return {"workspace": str(self.workspace), "error": self.error, "passed": False}
        return {"workspace": str(self.workspace), **self.report.to_json()}


def _within(root: Path, name: str, extra_depth: int) -> set[Path]:
    return {
        p
        for p in root.rglob(name)
        if len(p.relative_to(root).parts) <= MAX_DEPTH + extra_depth
        and not any(part.startswith(".") for part in p.relative_to(root).parts[:-extra_depth])
    }


def find_workspaces(root: Path, kata: str | None = None) -> tuple[list[Path], list[BatchResult]]:
    """The folders to grade, and those skipped with why. With `kata`, a folder holding a
    bare solution.py (what a class hands in) is graded as that kata."""
    if not root.is_dir():
        raise BadInput(f"--batch {root}: not a folder")
    sessions = {p.parent.parent for p in _within(root, str(SESSION_FILE), 2)}
    bare = {p.parent for p in _within(root, "solution.py", 1)} - sessions
    skipped: list[BatchResult] = []
    if kata is None:
        why = "a solution.py without a drill session: pass --kata KATA to grade it as that kata"
        skipped += [BatchResult(p, None, skipped=why) for p in sorted(bare)]
        found = sorted(sessions)
    else:
        load_kata(kata)  # an unknown id is bad input before anything is graded
        found = []
        for ws in sorted(sessions | bare):
            if ws in sessions and (other := _session_kata(ws)) not in (None, kata):
                skipped.append(BatchResult(ws, None, skipped=f"a session of {other}, not {kata}"))
            else:
                found.append(ws)
    if not found and not skipped:
        what = f"folders with {SESSION_FILE}" + (" or solution.py" if kata else "")
        raise BadInput(f"--batch {root}: no drill workspaces ({what}) inside")
    return found, skipped


def _session_kata(ws: Path) -> str | None:
    try:
        return Workspace(ws).load().kata
    except DrillError:
        return None  # a broken session: grading it reports the error


def grade_one(
    root: Path, device: str, only: set[str] | None, kata: str | None, strict_time: bool
) -> BatchResult:
    from grader.pipeline import grade

    try:
        if kata is not None and not (root / SESSION_FILE).is_file():
            report = grade(load_kata(kata), root / "solution.py", device=device, only=only)
            return BatchResult(root, report)
        session = Workspace(root).load()
        report = grade(
            load_kata(session.kata),
            root / "solution.py",
            device=device,
            only=only,
            elapsed_s=session.elapsed_s(),
            limit_s=session.limit_s,
            hints_taken=len(session.hints),
            variant=session.variant,
            strict_time=strict_time,
        )
        return BatchResult(root, report)
    except DrillError as exc:
        return BatchResult(root, None, str(exc))
    except Exception as exc:  # one broken workspace never stops the batch
        return BatchResult(root, None, f"internal error: {type(exc).__name__}: {exc}")


def grade_batch(
    root: Path,
    *,
    workers: int,
    device: str,
    only: set[str] | None,
    on_result: Callable[[BatchResult], None],
    kata: str | None = None,
    strict_time: bool = False,
) -> list[BatchResult]:
    if workers < 1:
        raise BadInput("--workers must be at least 1")
    workspaces, skipped = find_workspaces(root, kata)
    for result in skipped:
        on_result(result)
    results: dict[Path, BatchResult] = {}
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for result in pool.map(
            lambda ws: grade_one(ws, device, only, kata, strict_time), workspaces
        ):
            results[result.workspace] = result
            on_result(result)
    except BaseException:
        # Ctrl-C: stop the running grades' children and drop the queued grades, so that
        # the pool's threads end now instead of grading everything that was left.
        stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return [results[ws] for ws in workspaces] + skipped
