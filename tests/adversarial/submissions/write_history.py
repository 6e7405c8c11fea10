"""Appends garbage to the history store."""


def top_k_indices(xs: list[float], k: int) -> list[int]:
    with open("@@HISTORY@@", "ab") as f:
        f.write(b"garbage" * 1000)
    return []
