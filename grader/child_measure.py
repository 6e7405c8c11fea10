"""Child process: the kata's memory, speed and integration cases, candidate beside reference.

    python -I -m grader.child_measure CONFIG.json

Both sides go through the same case factory (`hidden/cases.py`), so they do the same
work on the same inputs. Memory: memray's peak of heap allocations during one call on
CPU (after a warm-up call, so lazy one-off allocations do not count), or
`torch.cuda.max_memory_allocated` on a GPU, which memray cannot see. Speed:
interleaved ABBA rounds (`grader.timing`), CUDA-synchronised on a GPU. Integration:
the candidate's component inside the reference engine (`grader.integration`). One
child for all three: torch is imported once.
"""

from __future__ import annotations

import gc
import importlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.child import Channel, setup
from grader.timing import compare

Factory = Callable[..., Callable[[], object]]


def describe(exc: BaseException) -> str:
    """`NotImplementedError: top_p` plus where in solution.py, when it happened there."""
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith("solution.py"):
            where = f" (solution.py line {frame.lineno})"
            break
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return text[:300] + where


def resolve_device(wanted: str) -> str:
    if wanted != "cuda" and "torch" not in sys.modules:
        return "cpu"  # a kata without torch: no reason to pay for its import
    import torch

    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    return wanted


def peak_bytes(fn: Callable[[], object], device: str, path: Path) -> int:
    fn()  # warm-up: lazy one-off allocations are not the design being measured
    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = fn()
        torch.cuda.synchronize()
        del out
        return int(torch.cuda.max_memory_allocated() - base)
    import memray

    with memray.Tracker(path, native_traces=False, follow_fork=False):
        out = fn()
        del out
    return int(memray.FileReader(path).metadata.peak_memory)


def measure_memory(
    channel: Channel, case: Factory, sides: dict[str, ModuleType], device: str
) -> None:
    for who, impl in sides.items():
        try:
            peak = peak_bytes(case(impl, device), device, Path(f"memray-{who}.bin"))
            channel.send({"kind": "memory", "who": who, "peak_bytes": peak})
        except BaseException as exc:  # the candidate's failure is a result, not our crash
            channel.send({"kind": "memory", "who": who, "error": describe(exc)})


def measure_speed(
    channel: Channel,
    case: Factory,
    sides: dict[str, ModuleType],
    device: str,
    sizes: list[int] | None,
) -> None:
    sync: Callable[[], None] = lambda: None  # noqa: E731
    if device == "cuda":
        import torch

        sync = torch.cuda.synchronize
    cand, ref = sides["candidate"], sides["reference"]
    large = sizes[-1] if sizes else None
    try:
        both = compare(case(cand, device, large), case(ref, device, large), sync=sync, max_s=3.0)
    except BaseException as exc:
        channel.send({"kind": "speed", "error": describe(exc)})
        return
    record: dict[str, Any] = {
        "kind": "speed",
        "ratio": both.ratio,
        "candidate_s": both.a_s,
        "reference_s": both.b_s,
        "rounds": both.rounds,
    }
    if sizes:
        small = sizes[0]
        try:
            growth = compare(
                case(cand, device, large), case(cand, device, small), sync=sync, max_s=2.0
            )
            ref_growth = compare(
                case(ref, device, large), case(ref, device, small), sync=sync, max_s=2.0
            )
            record.update(growth=growth.ratio, reference_growth=ref_growth.ratio, sizes=sizes)
        except BaseException as exc:
            channel.send({"kind": "speed", "error": describe(exc)})
            return
    channel.send(record)


def main() -> None:
    config, channel = setup(sys.argv[1])
    cases = importlib.import_module("cases")
    sides: dict[str, ModuleType] = {"reference": importlib.import_module(config["reference"])}
    try:
        sides["candidate"] = importlib.import_module("solution")
        channel.send({"kind": "imported"})
    except BaseException as exc:
        channel.send({"kind": "import_error", "error": describe(exc)})
        channel.send({"kind": "finish"})
        return
    try:
        device = resolve_device(config["device"])
    except RuntimeError as exc:
        channel.send({"kind": "fatal", "error": str(exc)})
        return
    channel.send({"kind": "device", "device": device})
    if config.get("memory"):
        measure_memory(channel, getattr(cases, config["memory"]["case"]), sides, device)
    if config.get("speed"):
        spec = config["speed"]
        measure_speed(channel, getattr(cases, spec["case"]), sides, device, spec.get("sizes"))
    if config.get("integration"):
        run_integration(
            channel, getattr(cases, config["integration"]["case"]), sides["candidate"], device
        )
    channel.send({"kind": "finish"})


def run_integration(
    channel: Channel,
    case: Callable[[ModuleType, str], str | None],
    solution: ModuleType,
    device: str,
) -> None:
    """The candidate's component inside the reference engine: None, or where it differs."""
    try:
        difference = case(solution, device)
    except BaseException as exc:  # the candidate's failure is a result, not our crash
        channel.send({"kind": "integration", "error": describe(exc)})
    else:
        channel.send({"kind": "integration", "device": device, "difference": difference})


if __name__ == "__main__":
    main()
