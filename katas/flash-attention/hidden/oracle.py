"""Oracles for the flash-attention suite: SDPA and autograd in float64, and the mask rule
written row by row.

Nothing here tiles anything: the expected values come from the full score matrix, in
float64, through `torch.nn.functional.scaled_dot_product_attention` (the peer) with the
kv heads repeated (`repeat_interleave`: query head h reads kv head h // group) and an
explicit boolean mask built one row at a time from the prompt's rule; the log-sum-exp
is `torch.logsumexp` of the same masked scores; gradients are autograd's through SDPA.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

# Tolerances the prompt states: |got - expected| <= ATOL + RTOL * |expected|.
FLOAT32 = (1e-4, 1e-4)
# bfloat16: a float32 accumulation rounded once stays within a third of these on the
# suite's cases; bfloat16 accumulation misses the output's by 2x and the lse's by 12x.
BFLOAT16 = (1e-3, 1e-2)
BFLOAT16_GRADS = (1e-2, 2e-2)
LSE_FLOAT32 = (1e-4, 1e-5)
LSE_BFLOAT16 = (1e-3, 1e-4)  # products of bf16 values are exact in float32


def row_mask(
    q_len: int, kv_len: int, causal: bool, window: int | None, offset: int | None
) -> Tensor:
    """bool [q_len, kv_len]: row i (position offset + i) allows keys lo .. p, where p is
    its position and lo = p - window + 1 (0 without a window); all keys when not causal."""
    mask = torch.zeros(q_len, kv_len, dtype=torch.bool)
    start = kv_len - q_len if offset is None else offset
    for i in range(q_len):
        if not causal:
            mask[i] = True
            continue
        p = start + i
        lo = 0 if window is None else p - window + 1
        lo, hi = max(lo, 0), min(p, kv_len - 1)
        if lo <= hi:
            mask[i, lo : hi + 1] = True
    return mask


def _full(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: float | None
) -> tuple[Tensor, Tensor]:
    group = q.shape[1] // k.shape[1]
    kr, vr = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    out = F.scaled_dot_product_attention(q, kr, vr, attn_mask=mask, scale=scale)
    s = (q @ kr.transpose(-1, -2)) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    lse = torch.logsumexp(s.masked_fill(~mask, -math.inf), dim=-1)
    return out, lse


def expected(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """(out, lse) in float64 from the inputs' values (bf16 inputs upcast exactly)."""
    mask = row_mask(q.shape[2], k.shape[2], causal, window, offset)
    with torch.no_grad():
        return _full(q.double(), k.double(), v.double(), mask, scale)


def expected_grads(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    dout: Tensor,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    scale: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(dq, dk, dv) in float64: autograd through float64 SDPA of sum(out * dout)."""
    mask = row_mask(q.shape[2], k.shape[2], causal, window, offset)
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    out, _ = _full(q64, k64, v64, mask, scale)
    dq, dk, dv = torch.autograd.grad(out, (q64, k64, v64), dout.double())
    return dq, dk, dv


def qkv(
    batch: int,
    n_heads: int,
    n_kv_heads: int,
    q_len: int,
    kv_len: int,
    head_dim: int,
    seed: int,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, n_heads, q_len, head_dim, generator=g)
    k = torch.randn(batch, n_kv_heads, kv_len, head_dim, generator=g)
    v = torch.randn(batch, n_kv_heads, kv_len, head_dim, generator=g)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def randn_like(t: Tensor, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(t.shape, generator=g).to(t.dtype)


def check_close(
    got: Tensor, want: Tensor, tol: tuple[float, float], what: str, dtype: torch.dtype
) -> None:
    """Shape, dtype, then every value within atol + rtol * |want| (NaN is never close)."""
    assert tuple(got.shape) == tuple(want.shape), (
        f"{what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    )
    assert got.dtype == dtype, f"{what}: expected dtype {dtype}, got {got.dtype}"
    atol, rtol = tol
    g, w = got.double(), want.double()
    both_inf = torch.isinf(g) & torch.isinf(w) & (g.sign() == w.sign())
    err = torch.where(both_inf, 0.0, (g - w).abs())
    bad = ~(err <= atol + rtol * w.abs().nan_to_num(posinf=0.0, neginf=0.0))
    if bad.any():
        at = tuple(int(i) for i in bad.nonzero()[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.numel()} values off (allowed {atol:g} + "
            f"{rtol:g} * |expected|); first at {at}: expected {float(w[at]):.6g}, got "
            f"{float(g[at]):.6g}"
        )
