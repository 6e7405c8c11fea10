# BUG: appends by torch.cat of the cached prefix and the new tokens, copied back into the buffer: O(cached tokens) per step
"""KV caches for decoding: a preallocated contiguous cache and a rolling buffer."""

from __future__ import annotations

import torch


class KVCache:
    """Token at position p of sequence b lives at k[layer, b, p]."""

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
        shape = (n_layers, batch_size, max_seq_len, n_kv_heads, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, t = k_new.shape[:2]
        device = self.k.device
        pos = start_pos.to(device)  # [batch]
        for b, s in enumerate(start_pos.tolist()):
            # Rebuilds the sequence's cached prefix plus the new tokens, then copies it back:
            # the buffers keep their storage, but every append moves the whole cache.
            self.k[layer, b, : s + t] = torch.cat([self.k[layer, b, :s], k_new[b]])
            self.v[layer, b, : s + t] = torch.cat([self.v[layer, b, :s], v_new[b]])
        end = int(start_pos.max()) + t
        return self.k[layer, :, :end], self.v[layer, :, :end], pos + t  # views, no copy


class RollingKVCache:
    """Sliding window W: position p lives in slot p % W; reads come back in time order."""

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
        shape = (n_layers, batch_size, window, n_kv_heads, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.window = window

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w = self.window
        batch, t = k_new.shape[:2]
        device = self.k.device
        pos = start_pos.to(device)  # [batch]
        rows = torch.arange(batch, device=device)[:, None]  # [batch, 1]
        # Only the chunk's last min(T, W) tokens survive; earlier ones would be overwritten.
        keep = min(t, w)
        first = pos + (t - keep)  # [batch] position of the first stored token
        slots = (first[:, None] + torch.arange(keep, device=device)) % w  # [batch, keep]
        self.k[layer, rows, slots] = k_new[:, t - keep :]
        self.v[layer, rows, slots] = v_new[:, t - keep :]
        end = pos + t
        lengths = end.clamp(max=w)
        # Key i of sequence b is position oldest + i, which sits in slot (oldest + i) % W.
        n = min(int(start_pos.max()) + t, w)
        oldest = end - lengths  # [batch]
        read = (oldest[:, None] + torch.arange(n, device=device)) % w  # [batch, n]
        return self.k[layer, rows, read], self.v[layer, rows, read], lengths
