"""The repro attached to the report. Run it with `drill test`; `drill grade` goes further.

`full_attention` below is the slow, obvious version: the same weights, every position
attending its window of the whole sequence, no cache and no chunks.
"""

from __future__ import annotations

import math

import torch
from solution import AttentionConfig, SlidingWindowAttention

CONFIG = AttentionConfig(dim=16, n_heads=4, n_kv_heads=2, head_dim=4, window=4, max_positions=64)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def full_attention(attn: SlidingWindowAttention, x: torch.Tensor) -> torch.Tensor:
    c = attn.config
    b, n, _ = x.shape
    q = (x @ attn.wq.T).view(b, n, c.n_heads, c.head_dim).double()
    k = (x @ attn.wk.T).view(b, n, c.n_kv_heads, c.head_dim).double()
    v = (x @ attn.wv.T).view(b, n, c.n_kv_heads, c.head_dim).double()
    half = c.head_dim // 2
    freq = c.rope_theta ** (-torch.arange(half, dtype=torch.float64) * 2 / c.head_dim)
    angle = torch.arange(n, dtype=torch.float64)[:, None, None] * freq  # [n, 1, half]

    def rope(t: torch.Tensor) -> torch.Tensor:
        a, b_ = t[..., :half], t[..., half:]
        return torch.cat(
            (a * angle.cos() - b_ * angle.sin(), b_ * angle.cos() + a * angle.sin()), -1
        )

    q, k = rope(q), rope(k)
    group = c.n_heads // c.n_kv_heads
    out = torch.zeros(b, n, c.n_heads, c.head_dim, dtype=torch.float64)
    for h in range(c.n_heads):
        for i in range(n):
            keys = [j for j in range(n) if i - c.window < j <= i]
            scores = torch.einsum("bd,bjd->bj", q[:, i, h], k[:, keys, h // group])
            p = torch.softmax(scores / math.sqrt(c.head_dim), dim=-1)
            out[:, i, h] = torch.einsum("bj,bjd->bd", p, v[:, keys, h // group])
    return (out.reshape(b, n, -1) @ attn.wo.T.double()).float()


def generate(
    attn: SlidingWindowAttention, x: torch.Tensor, prompt: int, chunk: int | None = None
) -> torch.Tensor:
    """Prefill x[:, :prompt] (in chunks of `chunk`), then decode the rest one token at a time."""
    outs = [attn.prefill(x[:, :prompt], chunk)]
    outs += [attn.decode(x[:, p : p + 1]) for p in range(prompt, x.shape[1])]
    return torch.cat(outs, dim=1)


def first_difference(got: torch.Tensor, want: torch.Tensor) -> int | None:
    bad = (~((got - want).abs() <= 1e-4)).any(dim=-1).any(dim=0).nonzero()  # NaN is a difference
    return int(bad[0]) if bad.numel() else None


def test_short_prompt_matches_full_attention() -> None:
    attn = SlidingWindowAttention(CONFIG, seed=0)
    x = randn(2, 3, 16, seed=1)
    assert first_difference(attn.prefill(x), full_attention(attn, x)) is None


def test_long_prompt_matches_full_attention() -> None:
    attn = SlidingWindowAttention(CONFIG, seed=0)
    x = randn(2, 13, 16, seed=2)
    assert first_difference(attn.prefill(x), full_attention(attn, x)) is None


def test_generation_past_the_window_matches_full_attention() -> None:
    attn = SlidingWindowAttention(CONFIG, seed=0)
    x = randn(1, 14, 16, seed=3)
    assert first_difference(generate(attn, x, prompt=2), full_attention(attn, x)) is None


def test_generation_after_a_long_prompt_matches_full_attention() -> None:
    attn = SlidingWindowAttention(CONFIG, seed=0)
    x = randn(1, 14, 16, seed=4)
    assert first_difference(generate(attn, x, prompt=10), full_attention(attn, x)) is None


def test_chunked_prefill_matches_one_shot_prefill() -> None:
    attn = SlidingWindowAttention(CONFIG, seed=0)
    x = randn(1, 12, 16, seed=5)
    one_shot = attn.prefill(x)
    for chunk in range(1, 7):
        assert first_difference(attn.prefill(x, chunk), one_shot) is None, f"chunk_size={chunk}"


def test_batch_of_two_equals_two_batches_of_one() -> None:
    attn = SlidingWindowAttention(CONFIG, seed=0)
    x = randn(2, 11, 16, seed=6)
    both = generate(attn, x, prompt=6, chunk=4)
    for b in range(2):
        assert (
            first_difference(both[b : b + 1], generate(attn, x[b : b + 1], prompt=6, chunk=4))
            is None
        )
