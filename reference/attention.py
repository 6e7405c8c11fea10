"""Scaled dot-product attention with grouped-query heads (GQA) and a boolean mask.

Layouts (sequence before heads, as the projections produce them):

    q     [batch, q_len,  n_heads,    head_dim]
    k, v  [batch, kv_len, n_kv_heads, head_dim]
    mask  bool, True = may attend, broadcastable to [batch, 1, q_len, kv_len]:
          [q_len, kv_len] (one mask for the batch), [batch, q_len, kv_len] or 4-D
    out   [batch, q_len, n_heads, head_dim]

GQA: query head h reads kv head `h // (n_heads // n_kv_heads)`, so consecutive
query heads share a kv head. Example: n_heads=4, n_kv_heads=2 -> heads 0,1 use kv
head 0 and heads 2,3 use kv head 1 (what `repeat_interleave` over the head axis gives).

Under the hood this is `torch.nn.functional.scaled_dot_product_attention`, which
picks a fused kernel (flash or memory-efficient on CUDA, a flash-style kernel on
CPU) and never materialises softmax weights for the whole batch.

One exception: a single query per row (a decode step) being traced by
`torch.compile`. Its scores are a few thousand multiply-adds; written as products
and sums, the compiler fuses them with the work around them, where the fused kernel
would be an opaque call of its own (four per step of the benchmark's tiny model;
docs/benchmarks.md). Same arithmetic, summed in another order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v per head; `[batch, q_len, n_heads, head_dim]`.

    mask None: every query attends every key (pass a causal mask for causal attention).
    scale defaults to 1/sqrt(head_dim). Every row of a mask should allow at least one
    key: a fully masked row has no defined softmax (some kernels return NaN).
    The result is a transposed view; `.reshape(batch, q_len, -1)` merges the heads.
    """
    n_heads, n_kv_heads = q.shape[2], k.shape[2]
    if n_heads % n_kv_heads:
        raise ValueError(f"n_heads={n_heads} is not a multiple of n_kv_heads={n_kv_heads}")
    if mask is not None and mask.dim() == 3:
        mask = mask[:, None]  # [batch, 1, q_len, kv_len]: the same mask for every head
    if q.shape[1] == 1 and torch.compiler.is_compiling():
        return _one_query(q, k, v, mask, scale)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2),  # [batch, n_heads, q_len, head_dim]
        k.transpose(1, 2),  # [batch, n_kv_heads, kv_len, head_dim]
        v.transpose(1, 2),
        attn_mask=mask,
        scale=scale,
        enable_gqa=n_heads != n_kv_heads,
    )  # [batch, n_heads, q_len, head_dim]
    return out.transpose(1, 2)


def _one_query(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    scale: float | None,
) -> torch.Tensor:
    """`attention` for q_len 1, as elementwise products and reductions (see the module doc)."""
    b, _, n_heads, head_dim = q.shape
    kv_len, n_kv_heads = k.shape[1], k.shape[2]
    group, v_dtype = n_heads // n_kv_heads, v.dtype
    scale = scale if scale is not None else 1.0 / math.sqrt(head_dim)
    # float32 throughout, as the fused kernels accumulate; the casts fuse away.
    q = q.float().view(b, 1, n_kv_heads, group, head_dim)  # heads under their kv head
    k, v = k.float()[:, :, :, None], v.float()[:, :, :, None]  # [b, kv_len, n_kv, 1, hd]
    scores = (q * k).sum(-1) * scale  # [batch, kv_len, n_kv_heads, group]
    if mask is not None:  # broadcastable to [batch, 1, 1, kv_len]
        keep = mask.expand(b, 1, 1, kv_len).reshape(b, kv_len, 1, 1)
        scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(scores, dim=1)
    out = (weights[..., None] * v).sum(1)  # [batch, n_kv_heads, group, head_dim]
    return out.view(b, 1, n_heads, head_dim).to(v_dtype)
