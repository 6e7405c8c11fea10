"""Oracles for the quantization hidden suite: the prompt's rules written as loops.

One group at a time, in float32 torch scalars (the prompt's arithmetic: a float32
division, then round half to even), nothing shared with a vectorised answer. The
peers, torch.ao's observer and torch.quantize_per_channel, are in the tests.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def slow_quantize(
    w: Tensor, bits: int, symmetric: bool, group_size: int | None
) -> tuple[Tensor, Tensor, Tensor]:
    """(q, scale, zero_point) group by group, as the prompt states them."""
    w = w.float()
    rows, cols = w.shape
    size = cols if group_size is None else group_size
    n_groups = math.ceil(cols / size)
    top = 2 ** (bits - 1) - 1 if symmetric else 2**bits - 1
    low = -top if symmetric else 0
    q = torch.zeros(rows, cols, dtype=torch.int64)
    scales = torch.zeros(rows, n_groups, dtype=torch.float32)
    zps = torch.zeros(rows, n_groups, dtype=torch.int64)
    for r in range(rows):
        for k in range(n_groups):
            part = w[r, k * size : (k + 1) * size]
            if symmetric:
                scale = part.abs().max() / top
                zp = torch.tensor(0.0)
            else:
                lo = torch.minimum(part.min(), torch.tensor(0.0))
                hi = torch.maximum(part.max(), torch.tensor(0.0))
                scale = (hi - lo) / top
            if float(scale) == 0.0:
                scale = torch.tensor(1.0)
            if not symmetric:
                zp = torch.round(-lo / scale).clamp(0, top)
            values = torch.round(part / scale) + zp
            q[r, k * size : (k + 1) * size] = values.clamp(low, top).long()
            scales[r, k] = scale
            zps[r, k] = int(zp)
    return q, scales, zps


def slow_dequantize(q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None) -> Tensor:
    """float64 (q - zero_point) * scale element by element's group."""
    cols = q.shape[1]
    size = cols if group_size is None else group_size
    out = torch.zeros(q.shape, dtype=torch.float64)
    for c in range(cols):
        k = c // size
        out[:, c] = (q[:, c].double() - zero_point[:, k].double()) * scale[:, k].double()
    return out


def nibble_bytes(values: list[int]) -> list[int]:
    """Pairs (v0, v1) -> v0 % 16 + 16 * (v1 % 16): the low nibble holds the even element."""
    return [values[i] % 16 + 16 * (values[i + 1] % 16) for i in range(0, len(values), 2)]


def first_difference(got: Tensor, expected: Tensor, what: str) -> str:
    """The first wrong element, in words."""
    if tuple(got.shape) != tuple(expected.shape):
        return f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    wrong = (got.long() != expected.long()).nonzero()
    if len(wrong) == 0:
        return f"{what}: values agree"
    at = tuple(int(i) for i in wrong[0])
    return (
        f"{what}: {len(wrong)} wrong value(s); first at {at}: expected "
        f"{int(expected[at])}, got {int(got[at])}"
    )


def gaussian(rows: int, cols: int, seed: int, std: float = 1.0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=g) * std
