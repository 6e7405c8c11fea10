"""What the hidden suite checks against: attention by SDPA, masks built here, a slow cache.

Layouts follow the kata: tokens before heads, `[batch, seq, heads, head_dim]`.
GQA: query head h reads kv head h // group, which `repeat_interleave` gives.

The solution runs in another process (`grader.judge.remote`): `cache.k` read here is
a copy, so whether two tensors share storage is tested by behaviour, on tensors kept
in the solution's process (`keep`, `keep_attr`): write through one, read the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SDPA with GQA; q [b, tq, hq, d], k/v [b, tk, hkv, d], mask bool [b, tq, tk] (True = attend)."""
    group = q.shape[2] // k.shape[2]
    k = k.repeat_interleave(group, dim=2)  # [b, tk, hq, d]
    v = v.repeat_interleave(group, dim=2)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask[:, None]
    )  # [b, hq, tq, d]
    return out.transpose(1, 2)


def decode_mask(lengths: torch.Tensor, kv_len: int) -> torch.Tensor:
    """Bool [b, 1, kv_len]: one decode query per sequence reads keys [0, lengths[b])."""
    return (torch.arange(kv_len) < lengths.cpu()[:, None])[:, None, :]


def window_mask(n: int, window: int | None) -> torch.Tensor:
    """Bool [n, n]: query i attends key j iff i - window < j <= i (window None: causal)."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    allowed = j <= i
    if window is not None:
        allowed &= j > i - window
    return allowed


def full_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int | None = None
) -> torch.Tensor:
    """Attention over whole sequences without any cache (the recomputation oracle)."""
    mask = window_mask(q.shape[1], window).expand(q.shape[0], -1, -1)
    return attend(q, k, v, mask)


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(dtype)


def positions(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


def marked(
    batch: int, start: list[int], t: int, n_kv: int, head_dim: int, tag: float
) -> torch.Tensor:
    """[batch, t, n_kv, head_dim] where every entry of token (b, i) is tag + 1000 b + position.

    Reading a value back says which sequence and position it came from.
    """
    pos = torch.tensor(start, dtype=torch.float32)[:, None] + torch.arange(t)  # [batch, t]
    ids = tag + 1000 * torch.arange(batch, dtype=torch.float32)[:, None] + pos
    return ids[:, :, None, None].expand(batch, t, n_kv, head_dim).clone()


def ids_of(x: torch.Tensor) -> list[list[int]]:
    """The per-token ids of a marked tensor [batch, t, n_kv, head_dim] (first entry of each)."""
    return [[round(float(v)) for v in row] for row in x[:, :, 0, 0].cpu()]


class SlowCache:
    """The obvious model: a dict per (layer, sequence) from position to its latest (k, v)."""

    def __init__(self, n_layers: int, batch: int, window: int | None) -> None:
        self.window = window
        self.hist: list[list[dict[int, tuple[torch.Tensor, torch.Tensor]]]] = [
            [{} for _ in range(batch)] for _ in range(n_layers)
        ]

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start: list[int]
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per sequence, the keys and values attention must read, in time order."""
        out = []
        for b, s in enumerate(start):
            hist = self.hist[layer][b]
            for i in range(k_new.shape[1]):
                hist[s + i] = (k_new[b, i], v_new[b, i])
            end = s + k_new.shape[1]
            first = 0 if self.window is None else max(0, end - self.window)
            ks = torch.stack([hist[p][0] for p in range(first, end)])
            vs = torch.stack([hist[p][1] for p in range(first, end)])
            out.append((ks, vs))
        return out


def built_over_garbage(make: Callable[[], Any], shape: tuple[int, int, int, int, int]) -> Any:
    """`make()` (a cache of one layer whose buffers are `shape`), called after the worker
    freed NaN-filled memory of the buffers' size: a scratch cache from `make()` filled
    through update, then dropped. Fresh pages read as zeros, so `torch.empty` would pass
    a check of a first cache; on reused memory it does not."""
    _, batch, seq, n_kv, d = shape
    scratch = make()
    nan = torch.full((batch, seq, n_kv, d), math.nan)
    scratch.update(0, nan, nan, torch.zeros(batch, dtype=torch.long))
    del scratch  # the worker drops it (and frees its buffers) before the next call
    return make()


def nonzero_entries(buf: torch.Tensor) -> int:
    """Entries that are not 0.0 (NaN included)."""
    return int((buf != 0).sum())


def call(cache: Any, layer: int, k: torch.Tensor, v: torch.Tensor, start: list[int]) -> Any:
    """cache.update with start positions given as a list (the suite's usual spelling)."""
    return cache.update(layer, k, v, torch.tensor(start, dtype=torch.long))
