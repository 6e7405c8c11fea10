# BUG: the device argument is ignored: the mask is always built on the CPU
"""Sliding-window attention masks: prefill, chunked prefill / decode, right-padded batches."""

from __future__ import annotations

import torch


def sliding_window_mask(
    q_len: int,
    kv_len: int,
    window: int | None,
    offset: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Bool [q_len, kv_len]: query i (position offset + i) may attend key j iff
    offset + i - window < j <= offset + i. window=None is plain causal."""
    if q_len < 0 or kv_len < 0 or offset < 0:
        raise ValueError(f"negative size: q_len={q_len}, kv_len={kv_len}, offset={offset}")
    if window is not None and window < 1:
        raise ValueError(f"window must be >= 1 or None, got {window}")
    # Diagonal d of the grid holds the cells with j - i == d. Allowed cells are
    # offset - window + 1 <= j - i <= offset, so keep that band of diagonals, in place:
    # the only q_len x kv_len allocation is the output itself.
    mask = torch.ones(q_len, kv_len, dtype=torch.bool)
    mask.tril_(offset)  # j <= offset + i (causal)
    if window is not None:
        mask.triu_(offset - window + 1)  # j > offset + i - window
    return mask


def padded_sliding_window_mask(
    lengths: torch.Tensor,
    window: int | None,
    q_len: int | None = None,
    offset: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Bool [batch, q_len, offset + q_len] for right-padded sequences.

    Sequence b is real at positions < lengths[b]. Real query rows follow the window
    rule (causality keeps them off the padding keys, which all come later); padding
    rows attend to themselves only, so no row is empty and softmax never gives NaN.
    """
    device = lengths.device if device is None else torch.device(device)
    lengths = lengths.to(device)
    if q_len is None:
        q_len = max(int(lengths.max()) - offset, 0) if lengths.numel() > 0 else 0
    kv_len = offset + q_len
    base = sliding_window_mask(q_len, kv_len, window, offset, device)  # [q, k]
    positions = torch.arange(offset, kv_len, device=device)  # [q]
    real = positions[None, :] < lengths[:, None]  # [b, q]
    mask = base & real[:, :, None]  # [b, q, k]; padding rows all False for now
    own = mask.diagonal(offset, dim1=1, dim2=2)  # [b, q] view: cell (i, offset + i)
    own |= ~real
    return mask
