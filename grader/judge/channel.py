"""What a judge process (a trusted child of the grade) does first: its channel to the parent.

The judge's processes run pytest, the hidden suite, the reference and the timers;
they never import candidate code (that runs in workers, `grader.worker`). They
report to the grade's parent over a pipe it gave them, one JSON object per line.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from grader.judge.client import ZygoteClient

PR_SET_PDEATHSIG = 1


class Channel:
    """The write end of the parent's pipe: one JSON object per line."""

    def __init__(self) -> None:
        fd = int(os.environ.pop("DRILL_RESULT_FD"))
        os.set_inheritable(fd, False)
        self._fd = fd

    def send(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, default=str) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


def exit_now() -> None:
    """End the process once its report is sent: tearing torch down would cost the grade
    a second, and there is nothing left to flush but our own streams."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def die_with_parent() -> None:
    """If the grade's parent is killed (even with SIGKILL), this process goes too."""
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)


def setup(config_path: str) -> tuple[dict[str, Any], Channel, ZygoteClient | None]:
    """Read the config, take the channel, and connect to the zygote (if one was given)."""
    die_with_parent()
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    channel = Channel()
    zygote_fd = os.environ.pop("DRILL_ZYGOTE_FD", "")
    zygote = ZygoteClient(int(zygote_fd)) if zygote_fd else None
    sys.dont_write_bytecode = True
    return config, channel, zygote
