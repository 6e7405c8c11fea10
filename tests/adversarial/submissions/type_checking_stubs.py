"""Typed stubs under `if TYPE_CHECKING:` for mypy to see, untyped code for what runs."""

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:

    def top_k_indices(xs: list[float], k: int) -> list[int]: ...

else:

    def top_k_indices(xs, k):
        if k <= 0:
            return []
        return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))
