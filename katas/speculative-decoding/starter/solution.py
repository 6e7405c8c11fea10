"""Speculative decoding: verify a batch of draft tokens. See PROMPT.md for the full statement."""

from __future__ import annotations

import torch
from torch import Tensor


def verify(
    draft: Tensor,
    q: Tensor,
    p: Tensor,
    lengths: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """(tokens int64 [B, k + 1], n_accepted int64 [B]): accept draft token x at position i
    when u * q_i(x) < p_i(x); at the first rejection draw from normalize(max(0, p_i - q_i));
    if all are accepted draw a bonus from p[b, lengths[b]]. -1 after the extra token."""
    raise NotImplementedError


def verify_greedy(
    draft: Tensor, target_logits: Tensor, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(tokens int64 [B, k + 1], n_accepted int64 [B]): keep draft tokens while each is the
    target's argmax (first maximal index), then emit the target's argmax."""
    raise NotImplementedError


def expected_accepted(p: Tensor, q: Tensor) -> float:
    """sum_i prod_{j <= i} alpha_j with alpha_j = sum_x min(p_j(x), q_j(x)); p, q [k, V]."""
    raise NotImplementedError
