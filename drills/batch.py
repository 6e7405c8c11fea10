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

    def to_json(self) -> dict[str, Any]:
        if self.report is None:
            return {"workspace": str(self.workspace), "error": self.error, "passed": False}
        return {"workspace": str(self.workspace), **self.report.to_json()}


def find_workspaces(root: Path) -> list[Path]:
    if not root.is_dir():
        raise BadInput(f"--batch {root}: not a folder")
    found = sorted(
        p.parent.parent
        for p in root.rglob(str(SESSION_FILE))
        if len(p.relative_to(root).parts) <= MAX_DEPTH + 2
    )
    if not found:
        raise BadInput(f"--batch {root}: no drill workspaces (folders with {SESSION_FILE}) inside")
    return found


def grade_one(root: Path, device: str, only: set[str] | None) -> BatchResult:
    from grader.pipeline import grade

    try:
        session = Workspace(root).load()
        report = grade(
            load_kata(session.kata),
            root / "solution.py",
            device=device,
            only=only,
            elapsed_s=session.elapsed_s(),
            limit_s=session.limit_s,
            hints_taken=len(session.hints),
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
) -> list[BatchResult]:
    if workers < 1:
        raise BadInput("--workers must be at least 1")
    workspaces = find_workspaces(root)
    results: dict[Path, BatchResult] = {}
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for result in pool.map(lambda ws: grade_one(ws, device, only), workspaces):
            results[result.workspace] = result
            on_result(result)
    except BaseException:
        # Ctrl-C: stop the running grades' children and drop the queued grades, so that
        # the pool's threads end now instead of grading everything that was left.
        stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return [results[ws] for ws in workspaces]
