"""Writes into the user's home directory."""


def top_k_indices(xs: list[float], k: int) -> list[int]:
    with open("@@HOME@@/planted.txt", "w") as f:
        f.write("pwned")
    return []
