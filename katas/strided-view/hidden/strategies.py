"""Hypothesis strategies: layouts as torch makes them, and shapes to view them as."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

STORAGE = 300  # every layout drawn here fits


@st.composite
def layouts(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(shape, strides, offset) of a permuted, narrowed, offset view of a row-major
    tensor, with arbitrary strides on its size-1 dimensions (they address nothing)."""
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    x = torch.as_strided(torch.zeros(STORAGE), shape, _row_major(shape), draw(st.integers(0, 20)))
    if shape:
        x = x.permute(draw(st.permutations(range(len(shape)))))
        d = draw(st.integers(0, len(shape) - 1))
        start = draw(st.integers(0, x.shape[d] - 1))
        x = x.narrow(d, start, draw(st.integers(1, x.shape[d] - start)))
    strides = tuple(
        draw(st.integers(0, 40)) if n == 1 else s for n, s in zip(x.shape, x.stride(), strict=True)
    )
    return tuple(x.shape), strides, x.storage_offset()


def _row_major(shape: list[int]) -> list[int]:
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return strides


@st.composite
def shapes_of(draw: st.DrawFn, numel: int) -> list[int]:
    """A shape with `numel` elements, sometimes with size-1 dimensions and one -1."""
    left, out = numel, []
    while left > 1:
        f = draw(st.sampled_from([k for k in range(2, left + 1) if left % k == 0]))
        out.append(f)
        left //= f
    for _ in range(draw(st.integers(0, 2))):
        out.insert(draw(st.integers(0, len(out))), 1)
    if out and draw(st.booleans()):
        out[draw(st.integers(0, len(out) - 1))] = -1
    return out
