"""A correct but untyped answer behind @typing.no_type_check, which mypy does not check."""

import heapq
import typing


@typing.no_type_check
def top_k_indices(xs, k):
    if k <= 0:
        return []
    return heapq.nsmallest(k, range(len(xs)), key=lambda i: (-xs[i], i))
