"""Stopping a worker: its process group, and the process itself should it have left it."""

from __future__ import annotations

import contextlib
import os
import signal


def kill_tree(pid: int) -> None:
    """SIGKILL the process group `pid` leads, and `pid` itself (no error if gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


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
