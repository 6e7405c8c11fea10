"""Forks 40 children that each sleep 20 s: a fork bomb with a bound, so it cannot harm the host."""

import os
import time


def top_k_indices(xs: list[float], k: int) -> list[int]:
    for _ in range(40):
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
    time.sleep(20)
    return []
