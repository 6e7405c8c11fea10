"""A correct but untyped answer; the workspace holds a mypy.ini and pyproject.toml that
turn strictness off and load a plugin (written by the test)."""

import heapq


def top_k_indices(xs, k):
    if k <= 0:
        return []
    return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))
