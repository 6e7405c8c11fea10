"""Raises SystemExit(0) from inside the function under test."""

import sys


def top_k_indices(xs: list[float], k: int) -> list[int]:
    sys.exit(0)
