"""`drill bench`: time the solution against the reference on the kata's speed case.

The judge (`grader.judge.run_bench`) runs both in sandboxed workers, as a grade does,
and times them with pytest-benchmark; this module starts it and reads the result.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.context import GradeContext
from grader.errors import BadInput, DrillError
from grader.kata import Kata
from grader.paths import off_limits
from grader.pipeline import build_native, private_copy, require_cuda
from grader.sandbox import ChildResult, run_child, start_servers, start_zygote

DEADLINE_S = 120.0


class BenchFailed(DrillError):
    """The solution could not be timed: it did not import, raised, or computed something
    else than the reference (exit 1, as a grade that does not pass)."""

    exit_code = 1


@dataclass(frozen=True)
class SideStats:
    median_s: float
    mean_s: float
    min_s: float
    stddev_s: float
    rounds: int


@dataclass(frozen=True)
class BenchRun:
    kata: str
    device: str
    at: str  # ISO time of the run
    candidate: SideStats
    reference: SideStats
    machine: str  # the CPU pytest-benchmark saw

    @property
    def ratio(self) -> float:
        """The candidate's median time over the reference's."""
        return self.candidate.median_s / self.reference.median_s

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ratio": self.ratio}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchRun:
        return cls(
            kata=data["kata"],
            device=data["device"],
            at=data["at"],
            candidate=SideStats(**data["candidate"]),
            reference=SideStats(**data["reference"]),
            machine=data["machine"],
        )


def bench(kata: Kata, solution: Path, device: str = "auto") -> tuple[BenchRun, dict[str, Any]]:
    """Time `solution` and the reference on the kata's speed case: the run, and
    pytest-benchmark's own JSON of it."""
    if kata.speed is None:
        raise BadInput(f"{kata.id} has no speed case: there is nothing to bench")
    if device == "cuda":
        require_cuda()
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        workdir = Path(tmp)
        solution_dir = private_copy(solution, workdir)
        forbidden = [*off_limits(), solution.resolve().parent]
        start_servers(list(kata.preload))
        zygote = start_zygote(workdir, list(kata.preload), forbidden)
        try:
            built = build_native(kata, solution, workdir, solution_dir, zygote)
            if built is not None and built.library is None:
                raise BadInput(f"native/: {built.error}")
            ctx = GradeContext(kata, workdir, solution_dir, device, zygote, built)
            folder = ctx.stage_dir("bench")
            config = {
                **ctx.judge_config("bench", DEADLINE_S),
                "import_timeout_s": kata.import_timeout_s,
                "device": device,
                "speed": dataclasses.asdict(kata.speed),
                "bench_dir": str(folder),
            }
            result = run_child(
                "grader.judge.run_bench",
                config,
                ctx.stage_dir("bench-judge"),
                deadline_s=DEADLINE_S,
                zygote_fd=zygote.new_client(),
            )
            _raise_failure(result)
            raw: dict[str, Any] = json.loads((folder / "bench.json").read_text())
        finally:
            zygote.stop()
    device_used = next((r["device"] for r in result.records if r["kind"] == "device"), device)
    return _run(kata, device_used, raw), raw


def _raise_failure(result: ChildResult) -> None:
    for record in result.records:
        if record["kind"] == "import_error":
            raise BenchFailed(f"solution.py could not be imported: {record['error']}")
        if record["kind"] == "error":
            raise BenchFailed(f"on the speed case, {record['error']}")
        if record["kind"] == "bench" and record.get("differs"):
            raise BenchFailed(
                f"your results differ from the reference's ({record['differs']}): a time "
                "only means something for a right answer (`drill test`, `drill grade`)"
            )
    if not any(r["kind"] == "bench" for r in result.records):
        raise BenchFailed(f"the bench did not finish: {result.exit_description()}")


def _run(kata: Kata, device: str, raw: dict[str, Any]) -> BenchRun:
    sides: dict[str, SideStats] = {}
    for b in raw["benchmarks"]:
        who = b["param"]
        s = b["stats"]
        sides[who] = SideStats(s["median"], s["mean"], s["min"], s["stddev"], int(s["rounds"]))
    cpu = raw.get("machine_info", {}).get("cpu", {}).get("brand_raw", "")
    return BenchRun(
        kata=kata.id,
        device=device,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        candidate=sides["candidate"],
        reference=sides["reference"],
        machine=str(cpu or raw.get("machine_info", {}).get("machine", "")),
    )
