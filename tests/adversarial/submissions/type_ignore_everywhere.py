"""A correct but untyped answer that silences mypy on every line and for the file."""

# mypy: ignore-errors
import heapq  # type: ignore


def top_k_indices(xs, k):  # type: ignore
    if k <= 0:  # type: ignore
        return []  # type: ignore
    return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))  # type: ignore
