"""Ignores SIGALRM (pytest-timeout's signal) and swallows every exception, then loops."""

import signal
import time

signal.signal(signal.SIGALRM, signal.SIG_IGN)


def top_k_indices(xs: list[float], k: int) -> list[int]:
    end = time.monotonic() + 120  # bounded, in case nothing stops it
    while time.monotonic() < end:
        try:
            time.sleep(0.01)
        except BaseException:
            pass
    return []
