"""Asks for 30 GB; the data-size limit refuses it long before the machine runs short."""


def top_k_indices(xs: list[float], k: int) -> list[int]:
    block = bytearray(30 * 2**30)
    return [len(block)]
