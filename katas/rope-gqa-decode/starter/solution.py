"""RoPE layouts, the weight conversion between them, and a GQA decode step.
See PROMPT.md for the full statement."""

from __future__ import annotations

from torch import Tensor


def apply_rope_half(x: Tensor, offset: int | Tensor = 0, base: float = 10000.0) -> Tensor:
    """Rotate pairs (x[i], x[i + d/2]) of x [batch, seq, n_heads, d] at positions offset + t."""
    raise NotImplementedError


def apply_rope_interleaved(x: Tensor, offset: int | Tensor = 0, base: float = 10000.0) -> Tensor:
    """Rotate pairs (x[2i], x[2i + 1]) of x [batch, seq, n_heads, d] at positions offset + t."""
    raise NotImplementedError


def interleaved_to_half(w: Tensor, n_heads: int) -> Tensor:
    """wq or wk [n_heads * d, in]: in each head, new row j = old row 2j, new row
    d/2 + j = old row 2j + 1."""
    raise NotImplementedError


def half_to_interleaved(w: Tensor, n_heads: int) -> Tensor:
    """The inverse of interleaved_to_half."""
    raise NotImplementedError


def decode_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, lengths: Tensor) -> Tensor:
    """q [batch, n_heads, d] against the first lengths[b] slots of the caches
    [batch, n_kv_heads, max_len, d]; returns [batch, n_heads, d] in q's dtype."""
    raise NotImplementedError


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
    """Rotate q and k at position lengths[b], write k and v into the caches at index
    lengths[b], attend indices 0 .. lengths[b]; returns [batch, n_heads, d]."""
    raise NotImplementedError
