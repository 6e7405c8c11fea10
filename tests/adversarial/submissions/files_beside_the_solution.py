"""Wrong answer; the workspace also holds a conftest.py, sitecustomize.py and a .pth file
that would force passes (written by the test); none of them may take part."""


def top_k_indices(xs: list[float], k: int) -> list[int]:
    return []
