"""Oracles and inputs for the hidden suite.

RoPE and the decode step are checked against `reference.rope_decode` (the same
conventions, computed in float32) and against hand-worked values; decode attention also
against `slow_attention`, a float64 loop over sequences and heads that shares nothing
with a vectorised answer; the conversion against its row rule written as a loop.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

STALE_KEY = 30.0  # a stale key this large would win every softmax it entered
STALE_VALUE = -500.0  # and its value would drag the output far off


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(dtype)


def stale_caches(
    batch: int,
    n_kv_heads: int,
    max_len: int,
    head_dim: int,
    lengths: list[int],
    seed: int,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Random caches whose slots at and after each sequence's length hold stale values
    that change the output if attended."""
    k = randn(batch, n_kv_heads, max_len, head_dim, seed=seed)
    v = randn(batch, n_kv_heads, max_len, head_dim, seed=seed + 1)
    for b, n in enumerate(lengths):
        k[b, :, n:] = STALE_KEY
        v[b, :, n:] = STALE_VALUE
    return k.to(dtype), v.to(dtype)


def slow_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, lengths: list[int]) -> Tensor:
    """float64 [batch, n_heads, head_dim]: each head h against kv head h // group, over
    the first lengths[b] slots, one (sequence, head) at a time."""
    batch, n_heads, head_dim = q.shape
    group = n_heads // k_cache.shape[1]
    out = torch.empty(batch, n_heads, head_dim, dtype=torch.float64)
    for b in range(batch):
        n = lengths[b]
        for h in range(n_heads):
            keys = k_cache[b, h // group, :n].double()  # [n, head_dim]
            values = v_cache[b, h // group, :n].double()
            scores = keys @ q[b, h].double() / math.sqrt(head_dim)
            out[b, h] = torch.softmax(scores, dim=0) @ values
    return out


def loop_interleaved_to_half(w: Tensor, n_heads: int) -> Tensor:
    """In each head of d rows: new row j <- old row 2j, new row d/2 + j <- old row 2j + 1."""
    d = w.shape[0] // n_heads
    out = torch.empty_like(w)
    for h in range(n_heads):
        for j in range(d // 2):
            out[h * d + j] = w[h * d + 2 * j]
            out[h * d + d // 2 + j] = w[h * d + 2 * j + 1]
    return out


def half_order(head_dim: int) -> list[int]:
    """The half layout's entry order in terms of the interleaved one: [0, 2, ..., 1, 3, ...]."""
    return list(range(0, head_dim, 2)) + list(range(1, head_dim, 2))


def check_close(got: Tensor, want: Tensor, atol: float, rtol: float, what: str) -> None:
    """Shape and values, with the worst element named when they differ."""
    assert tuple(got.shape) == tuple(want.shape), (
        f"{what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    )
    diff = (got.double() - want.double()).abs()
    allowed = atol + rtol * want.double().abs()
    if bool((diff <= allowed).all()):
        return
    if bool(diff.isnan().any()):
        nan_at = tuple(int(i) for i in diff.isnan().nonzero()[0])
        raise AssertionError(f"{what}: NaN at index {nan_at}")
    worst = torch.unravel_index((diff - allowed).flatten().argmax(), diff.shape)
    at = tuple(int(i) for i in worst)
    raise AssertionError(
        f"{what}: {int((diff > allowed).sum())} value(s) off; worst at index {at}: "
        f"expected {float(want[at]):.5g}, got {float(got[at]):.5g} (allowed ±{float(allowed[at]):.2g})"
    )
