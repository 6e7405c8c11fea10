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
"""

from __future__ import annotations

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
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2),  # [batch, n_heads, q_len, head_dim]
        k.transpose(1, 2),  # [batch, n_kv_heads, kv_len, head_dim]
        v.transpose(1, 2),
        attn_mask=mask,
        scale=scale,
        enable_gqa=n_heads != n_kv_heads,
    )  # [batch, n_heads, q_len, head_dim]
    return out.transpose(1, 2)
