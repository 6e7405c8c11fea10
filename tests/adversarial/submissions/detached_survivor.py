"""A correct answer that leaves processes behind every way it can: a child in its own
process group, and a double-forked daemon in its own session. Each renames itself so the
test can look for it after the grade."""

import ctypes
import heapq
import os
import time

PR_SET_NAME = 15


def _linger(name: bytes) -> None:
    ctypes.CDLL(None).prctl(PR_SET_NAME, name, 0, 0, 0)
    end = time.monotonic() + 60  # bounded, in case nothing stops it
    while time.monotonic() < end:
        time.sleep(0.1)
    os._exit(0)


def _detach() -> None:
    if os.fork() == 0:  # a child in a process group of its own
        os.setpgid(0, 0)
        _linger(b"drill-survivor")
    if os.fork() == 0:  # the classic daemon: setsid, fork again, the middle one exits
        os.setsid()
        if os.fork() == 0:
            _linger(b"drill-survivor")
        os._exit(0)


_detach()


def top_k_indices(xs: list[float], k: int) -> list[int]:
    if k <= 0:
        return []
    return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))
