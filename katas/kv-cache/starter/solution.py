"""KV caches for decoding: a preallocated contiguous cache and a rolling buffer.

See PROMPT.md for the full contract. Layout: tokens before heads,
k_new / v_new [batch_size, T, n_kv_heads, head_dim], start_pos int64 [batch_size].
"""

from __future__ import annotations

import torch


class KVCache:
    """Token at position p of sequence b lives at k[layer, b, p]."""

    k: torch.Tensor  # [n_layers, batch_size, max_seq_len, n_kv_heads, head_dim]
    v: torch.Tensor

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        max_seq_len: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        raise NotImplementedError("allocate self.k and self.v")

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write token t of sequence b at position start_pos[b] + t; return (k, v, lengths)."""
        raise NotImplementedError("KVCache.update")


class RollingKVCache:
    """Sliding window W: position p lives in slot p % W; reads come back in time order."""

    k: torch.Tensor  # [n_layers, batch_size, window, n_kv_heads, head_dim]
    v: torch.Tensor

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        window: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        raise NotImplementedError("allocate self.k and self.v")

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write the last min(T, W) tokens to slots pos % W; return the window in time order."""
        raise NotImplementedError("RollingKVCache.update")
