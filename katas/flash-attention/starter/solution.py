"""Flash attention, forward and backward. See PROMPT.md for the full statement."""

from __future__ import annotations

from torch import Tensor


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
) -> tuple[Tensor, Tensor]:
    """(out [batch, n_heads, q_len, head_dim] in q's dtype,
    lse [batch, n_heads, q_len] float32), computed tile by tile."""
    raise NotImplementedError


def flash_attention_backward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    dout: Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
) -> tuple[Tensor, Tensor, Tensor]:
    """(dq, dk, dv) in the shapes and dtypes of q, k, v, tile by tile."""
    raise NotImplementedError
