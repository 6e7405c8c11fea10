"""Sliding-window attention with a rolling-buffer KV cache (Mistral 7B style).

One attention layer of a decoder: grouped-query attention (n_kv_heads divides
n_heads), rotary position embeddings (rotate-half layout), and a sliding window of W
positions: the query at position i attends to the keys at positions j with
`i - W < j <= i`, the W most recent tokens, itself included.

Because no query ever looks further back than W - 1 positions, the KV cache only
keeps the last W tokens of each sequence: a rolling buffer of W slots where the token
at position p lives in slot `p % W`. A long prompt can be fed in chunks (chunked
prefill): each chunk attends to what the cache holds from before the chunk plus the
chunk itself, and only then is written into the cache. Decoding is a chunk of one.

Layouts: activations are `[batch, seq, dim]`; per-head tensors are
`[batch, seq, heads, head_dim]` until attention, which runs on
`[batch, heads, seq, head_dim]`. Every sequence of a batch is at the same position.
Weights follow `torch.nn.Linear`: `y = x @ w.T`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AttentionConfig:
    dim: int = 64
    n_heads: int = 8
    n_kv_heads: int = 2
    head_dim: int = 8
    window: int = 16
    rope_theta: float = 10000.0
    max_positions: int = 4096  # length of the RoPE table, the longest sequence served

    def __post_init__(self) -> None:
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})"
            )
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {self.head_dim}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")


def sliding_window_mask(q_len: int, kv_len: int, window: int, offset: int = 0) -> torch.Tensor:
    """Bool `[q_len, kv_len]`, True where query row i may attend key column j.

    Query row i sits at index `offset + i` of the key sequence (offset = the number of
    keys that come before the queries' own keys); key column j sits at index j. The
    query attends key j iff `offset + i - window < j <= offset + i`.
    """
    q = torch.arange(q_len)[:, None] + offset  # [q_len, 1] the query's own key index
    j = torch.arange(kv_len)[None, :]  # [1, kv_len]
    return (j <= q) & (j >= q - window)


def rope_table(head_dim: int, theta: float, n_positions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin, float32 `[n_positions, head_dim // 2]`: angle `p * theta^(-2k / head_dim)`."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.arange(n_positions, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` `[batch, seq, heads, head_dim]` by cos/sin `[seq, head_dim // 2]`.

    Rotate-half layout: pair k is (x[k], x[k + head_dim // 2]).
    """
    x1, x2 = x.chunk(2, dim=-1)
    c = cos[None, :, None, :]  # [1, seq, 1, head_dim // 2]
    s = sin[None, :, None, :]
    return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1)


class RollingCache:
    """The last `window` keys and values of each sequence; position p lives in slot p % W.

    k, v: `[batch, window, n_kv_heads, head_dim]`. `pos` is the number of tokens
    written so far, the position of the next one. Keys are stored after RoPE.
    """

    def __init__(self, batch: int, window: int, n_kv_heads: int, head_dim: int) -> None:
        self.window = window
        self.k = torch.zeros(batch, window, n_kv_heads, head_dim)
        self.v = torch.zeros(batch, window, n_kv_heads, head_dim)
        self.pos = 0

    def read(self, end: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of positions `max(0, end - W) .. end - 1`, oldest first.

        Returns `[batch, min(end, W), n_kv_heads, head_dim]` each.
        """
        if end <= self.window:
            return self.k[:, :end], self.v[:, :end]
        oldest = end % self.window  # the slot of position end - W
        return self.k.roll(-oldest, dims=1), self.v.roll(-oldest, dims=1)

    def write(self, k: torch.Tensor, v: torch.Tensor, start_pos: int) -> None:
        """Store the tokens at positions `start_pos .. start_pos + T - 1` (k, v `[batch, T, ...]`).

        A chunk longer than the window leaves only its last W tokens in the cache.
        """
        t = k.shape[1]
        keep = min(t, self.window)
        k, v = k[:, t - keep :], v[:, t - keep :]
        slots = torch.arange(start_pos + t - keep, start_pos + t) % self.window
        self.k[:, slots] = k
        self.v[:, slots] = v
        self.pos = start_pos + t


class SlidingWindowAttention:
    """One attention layer with its own rolling cache.

    `prefill(x, chunk_size)` starts a new batch of sequences; `decode(x)` appends one
    token to each. `forward(x, start_pos)` is the step both are built on.
    """

    def __init__(self, config: AttentionConfig, seed: int = 0) -> None:
        self.config = config
        self.window = config.window
        self.n_heads = config.n_heads
        self.n_kv_heads = config.n_kv_heads
        self.head_dim = config.head_dim
        self.group = config.n_heads // config.n_kv_heads  # query heads per kv head
        self.scale = 1.0 / math.sqrt(config.head_dim)
        g = torch.Generator().manual_seed(seed)
        d, hd = config.dim, config.head_dim

        def init(rows: int, cols: int) -> torch.Tensor:
            return torch.randn(rows, cols, generator=g) / math.sqrt(cols)

        self.wq = init(config.n_heads * hd, d)
        self.wk = init(config.n_kv_heads * hd, d)
        self.wv = init(config.n_kv_heads * hd, d)
        self.wo = init(d, config.n_heads * hd)
        self.cos, self.sin = rope_table(hd, config.rope_theta, config.max_positions)
        self.cache: RollingCache | None = None

    def reset(self, batch: int) -> None:
        """Forget every sequence; the next forward starts at position 0."""
        self.cache = RollingCache(batch, self.window, self.n_kv_heads, self.head_dim)

    def forward(self, x: torch.Tensor, start_pos: int) -> torch.Tensor:
        """Attend the tokens `x` `[batch, T, dim]` at positions `start_pos .. start_pos + T - 1`.

        `start_pos` must be the number of tokens the cache has seen (0 starts over).
        Returns `[batch, T, dim]`.
        """
        b, t, _ = x.shape
        if start_pos == 0:
            self.reset(b)
        cache = self.cache
        if cache is None or cache.pos != start_pos or cache.k.shape[0] != b:
            raise ValueError(
                f"forward at start_pos={start_pos} with batch {b} does not continue the "
                f"cache ({'empty' if cache is None else f'{cache.pos} tokens'})"
            )
        if start_pos + t > self.config.max_positions:
            raise ValueError(f"positions up to {start_pos + t} exceed max_positions")

        q = (x @ self.wq.T).view(b, t, self.n_heads, self.head_dim)
        k = (x @ self.wk.T).view(b, t, self.n_kv_heads, self.head_dim)
        v = (x @ self.wv.T).view(b, t, self.n_kv_heads, self.head_dim)
        cos = self.cos[start_pos : start_pos + t]  # [t, head_dim // 2]
        sin = self.sin[start_pos : start_pos + t]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)

        # The past as the cache holds it before this chunk, oldest first, then the chunk.
        past_k, past_v = cache.read(start_pos)  # [b, n_past, n_kv_heads, head_dim]
        n_past = past_k.shape[1]  # min(start_pos, W)
        keys = torch.cat((past_k, k), dim=1)  # [b, n_past + t, n_kv_heads, head_dim]
        values = torch.cat((past_v, v), dim=1)
        mask = sliding_window_mask(t, n_past + t, self.window, offset=n_past)

        out = self._attend(q, keys, values, mask)  # [b, t, n_heads * head_dim]
        cache.write(k, v, start_pos)
        return out @ self.wo.T

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """q `[b, t, n_heads, hd]`, k/v `[b, s, n_kv_heads, hd]`, mask bool `[t, s]`."""
        b, t = q.shape[0], q.shape[1]
        # GQA: query head h reads kv head h // group.
        k = k.repeat_interleave(self.group, dim=2)  # [b, s, n_heads, hd]
        v = v.repeat_interleave(self.group, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [b, h, *, hd]
        scores = (q @ k.transpose(-2, -1)) * self.scale  # [b, h, t, s]
        scores = scores.masked_fill(~mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        out = probs @ v  # [b, h, t, hd]
        return out.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim)

    def prefill(self, x: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Start new sequences with the prompts `x` `[batch, T, dim]`, fed `chunk_size`
        tokens at a time (None: all at once). Returns `[batch, T, dim]`."""
        t = x.shape[1]
        if t == 0:
            raise ValueError("prefill needs at least one token")
        step = t if chunk_size is None else chunk_size
        if step < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        outs = [self.forward(x[:, s : s + step], s) for s in range(0, t, step)]
        return torch.cat(outs, dim=1)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """One new token per sequence: `x` `[batch, 1, dim]` -> `[batch, 1, dim]`."""
        if self.cache is None or self.cache.pos == 0:
            raise ValueError("decode needs a prefill first")
        if x.shape[1] != 1:
            raise ValueError(f"decode takes one token per sequence, got {x.shape[1]}")
        return self.forward(x, self.cache.pos)
