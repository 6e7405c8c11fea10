"""Top-k, top-p and min-p sampling over a batch of logits. See PROMPT.md."""

from __future__ import annotations

import torch
from torch import Tensor


def filter_logits(
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
) -> Tensor:
    """float32 [batch, vocab]: logits / temperature, with removed tokens at -inf."""
    raise NotImplementedError("filter_logits")


def sample(
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """int64 [batch]: one token id per row, drawn from the filtered distribution."""
    raise NotImplementedError("sample")
