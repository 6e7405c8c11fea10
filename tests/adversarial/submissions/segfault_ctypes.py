"""Dereferences a null pointer through ctypes."""

import ctypes


def top_k_indices(xs: list[float], k: int) -> list[int]:
    ctypes.string_at(0)
    return []
