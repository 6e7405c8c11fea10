"""Overwrites the candidate's own solution.py in the workspace."""


def top_k_indices(xs: list[float], k: int) -> list[int]:
    with open("@@WORKSPACE@@/solution.py", "w") as f:
        f.write("# gone\n")
    return []
