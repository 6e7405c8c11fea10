"""Stopping a worker: its process group, and the process itself should it have left it."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def kill_tree(pid: int) -> None:
    """SIGKILL the process group `pid` leads, and `pid` itself (no error if gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


# Why a measured worker (allowed no process but itself) was stopped: said by the zygote,
# which counts every worker's processes, and by the judge, which checks after measuring.
NOT_ALONE = (
    "the solution's process started another process while being measured (a measured "
    "worker runs alone) and was stopped"
)


def children(pid: int) -> list[int]:
    """The processes `pid` started that are still its children (all its threads')."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(p) for p in task.read_text().split()]
    return found


WHY = {
    "SIGSEGV": " (a segmentation fault)",
    "SIGXCPU": " (CPU time limit reached)",
    "SIGXFSZ": " (file size limit reached: too much output?)",
    "SIGKILL": " (killed, often for memory)",
    "SIGABRT": " (aborted)",
}


def death(signal_number: int) -> str:
    """`SIGSEGV (a segmentation fault)`: a signal that ended a process, in words."""
    try:
        name = signal.Signals(signal_number).name
    except ValueError:
        name = f"signal {signal_number}"
    return name + WHY.get(name, "")
