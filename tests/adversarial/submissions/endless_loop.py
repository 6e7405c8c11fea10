"""Loops forever inside the function (bounded by the grader's per-test timeout)."""


def top_k_indices(xs: list[float], k: int) -> list[int]:
    while True:
        pass
