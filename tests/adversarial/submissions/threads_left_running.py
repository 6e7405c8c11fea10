"""A correct answer that leaves a non-daemon thread running (for at most 120 s)."""

import heapq
import threading
import time


def _spin() -> None:
    end = time.monotonic() + 120
    while time.monotonic() < end:
        time.sleep(0.05)


threading.Thread(target=_spin, daemon=False).start()


def top_k_indices(xs: list[float], k: int) -> list[int]:
    if k <= 0:
        return []
    return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))
