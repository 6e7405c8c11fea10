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
