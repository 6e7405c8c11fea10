"""Recurses without a base case."""


def top_k_indices(xs: list[float], k: int) -> list[int]:
    return top_k_indices(xs, k + 1)
