"""Prints 100 MB."""

import sys


def top_k_indices(xs: list[float], k: int) -> list[int]:
    chunk = "x" * (1 << 20)
    for _ in range(100):
        sys.stdout.write(chunk)
    return []
