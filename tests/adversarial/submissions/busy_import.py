"""Loops at import time; gives up by itself after 120 s so it can never run away."""

import time

_end = time.monotonic() + 120
while time.monotonic() < _end:
    pass


def top_k_indices(xs: list[float], k: int) -> list[int]:
    return []
