"""RoPE in both layouts, the weight conversion between them, and a GQA decode step."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _angles(x: Tensor, offset: int | Tensor, base: float) -> Tensor:
    """float32 [batch or 1, seq, 1, head_dim // 2]: position * base^(-2i / head_dim)."""
    seq, head_dim = x.shape[1], x.shape[-1]
    start = torch.as_tensor(offset, device=x.device).reshape(-1, 1)  # [batch or 1, 1]
    positions = (start + torch.arange(seq, device=x.device)).float()  # absolute positions
    i = torch.arange(head_dim // 2, dtype=torch.float32, device=x.device)
    theta = base ** (-2 * i / head_dim)
    return (positions[..., None] * theta)[:, :, None]  # broadcast over heads


def apply_rope_half(x: Tensor, offset: int | Tensor = 0, base: float = 10000.0) -> Tensor:
    """Rotate pairs (x[i], x[i + d/2]) of x [batch, seq, n_heads, head_dim]."""
    angles = _angles(x, offset, base)
    cos, sin = angles.cos(), angles.sin()
    a, b = x.float().chunk(2, dim=-1)
    return torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1).to(x.dtype)


def apply_rope_interleaved(x: Tensor, offset: int | Tensor = 0, base: float = 10000.0) -> Tensor:
    """Rotate pairs (x[2i], x[2i + 1]) of x [batch, seq, n_heads, head_dim]."""
    angles = _angles(x, offset, base)
    cos, sin = angles.cos(), angles.sin()
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)  # [batch, seq, heads, d/2, 2]
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack((a * cos - b * sin, b * cos + a * sin), dim=-1).flatten(-2).to(x.dtype)


def interleaved_to_half(w: Tensor, n_heads: int) -> Tensor:
    """Per head: output rows (2j, 2j + 1) become rows (j, d/2 + j)."""
    rows, cols = w.shape
    head_dim = rows // n_heads
    return w.reshape(n_heads, head_dim // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def half_to_interleaved(w: Tensor, n_heads: int) -> Tensor:
    """Per head: output rows (j, d/2 + j) become rows (2j, 2j + 1)."""
    rows, cols = w.shape
    head_dim = rows // n_heads
    return w.reshape(n_heads, 2, head_dim // 2, cols).transpose(1, 2).reshape(rows, cols)


def decode_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, lengths: Tensor) -> Tensor:
    """q [batch, n_heads, d] against the first lengths[b] entries of caches
    [batch, n_kv_heads, max_len, d]; float32 inside, q's dtype out."""
    batch, n_heads, head_dim = q.shape
    n_kv_heads = k_cache.shape[1]
    group = n_heads // n_kv_heads
    longest = int(lengths.max())
    k = k_cache[:, :, :longest].float()  # a view: .float() of float32 is the tensor itself
    v = v_cache[:, :, :longest].float()
    qg = q.float().reshape(batch, n_kv_heads, group, head_dim)  # head h = kv * group + g
    scores = qg @ k.transpose(-1, -2) / math.sqrt(head_dim)  # [batch, n_kv, group, longest]
    valid = torch.arange(longest, device=q.device) < lengths.to(q.device)[:, None]
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = weights @ v  # [batch, n_kv, group, d]
    return out.reshape(batch, n_heads, head_dim).to(q.dtype)


def decode_step(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    lengths: Tensor,
    base: float = 10000.0,
    interleaved: bool = False,
) -> Tensor:
    """Rotate q, k at position lengths[b], write k, v at cache index lengths[b], attend
    indices 0 .. lengths[b]."""
    rope = apply_rope_interleaved if interleaved else apply_rope_half
    q = rope(q[:, None], lengths, base)[:, 0]
    k = rope(k[:, None], lengths, base)[:, 0]
    rows = torch.arange(q.shape[0], device=k_cache.device)
    at = lengths.to(k_cache.device)
    k_cache[rows, :, at] = k.to(k_cache.dtype)
    v_cache[rows, :, at] = v.to(v_cache.dtype)
    return decode_attention(q, k_cache, v_cache, lengths + 1)
