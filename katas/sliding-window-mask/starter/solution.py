"""Sliding-window attention masks. See PROMPT.md for the full statement."""

from __future__ import annotations

import torch


def sliding_window_mask(
    q_len: int,
    kv_len: int,
    window: int | None,
    offset: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Bool [q_len, kv_len], True where query i (position offset + i) may attend key j:
    offset + i - window < j <= offset + i. window=None is plain causal."""
    raise NotImplementedError


def padded_sliding_window_mask(
    lengths: torch.Tensor,
    window: int | None,
    q_len: int | None = None,
    offset: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Bool [batch, q_len, offset + q_len] for right-padded sequences: real rows follow
    the window rule, padding rows (offset + i >= lengths[b]) attend to themselves only."""
    raise NotImplementedError
