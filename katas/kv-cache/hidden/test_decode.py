"""Decoding through attention with the cache equals recomputing attention without one.

Every test generates whole sequences of queries, keys and values up front, runs
full attention over them once (causal, or the sliding window of the convention
`i - W < j <= i`, masks built here), then feeds the same tokens through the cache
one decode step at a time and attends over what `update` returns, masked by
`lengths`. GQA: 4 query heads share 2 kv heads (`repeat_interleave`).
"""

from __future__ import annotations

from typing import Any

import solution as sol
import torch
from oracle import attend, call, decode_mask, full_attention, randn

N_LAYERS, N_KV, GROUP, D = 2, 2, 2, 8


def _tokens(batch: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q [layers, batch, n, N_KV * GROUP, D] and k, v [layers, batch, n, N_KV, D]."""
    q = randn(N_LAYERS, batch, n, N_KV * GROUP, D, seed=seed)
    k = randn(N_LAYERS, batch, n, N_KV, D, seed=seed + 1)
    v = randn(N_LAYERS, batch, n, N_KV, D, seed=seed + 2)
    return q, k, v


def _step(
    cache: Any, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, start: list[int]
) -> torch.Tensor:
    """One decode step of one layer: write k, v [batch, 1, ...]; attend q [batch, 1, ...]."""
    k_all, v_all, lengths = call(cache, layer, k, v, start)
    assert k_all.shape[1] >= max(lengths.tolist()), "update returned fewer keys than lengths says"
    return attend(q, k_all, v_all, decode_mask(lengths, k_all.shape[1]))


def _check(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    # allclose first: assert_close is slow, and runs only to word a failure.
    if not torch.allclose(got, want, atol=1e-5, rtol=1e-5):
        torch.testing.assert_close(
            got, want, atol=1e-5, rtol=1e-5, msg=lambda m: f"{what} differs from recomputation: {m}"
        )


def test_contiguous_decode_200_steps_matches_full_recomputation() -> None:
    batch, prompt, steps = 2, 6, 200
    n = prompt + steps
    q, k, v = _tokens(batch, n, seed=10)
    cache = sol.KVCache(N_LAYERS, batch, n, N_KV, D)
    want = [full_attention(q[i], k[i], v[i]) for i in range(N_LAYERS)]  # [batch, n, hq, D]
    for layer in range(N_LAYERS):
        call(cache, layer, k[layer, :, :prompt], v[layer, :, :prompt], [0, 0])
    for p in range(prompt, n):
        for layer in range(N_LAYERS):
            s = slice(p, p + 1)
            out = _step(cache, layer, q[layer, :, s], k[layer, :, s], v[layer, :, s], [p, p])
            _check(out, want[layer][:, s], f"layer {layer}, decode step at position {p}")


def test_contiguous_ragged_batch_decode_matches_each_sequence_alone() -> None:
    prompts, steps = [9, 3, 6], 60
    batch, longest = len(prompts), max(prompts)
    n = longest + steps
    q, k, v = _tokens(batch, n, seed=20)
    cache = sol.KVCache(N_LAYERS, batch, n, N_KV, D)
    # Sequence b's tokens are q/k/v[:, b, :prompts[b] + steps]; its prefill is right-padded
    # to the longest prompt, and the padding is overwritten as it decodes.
    want = [full_attention(q[i], k[i], v[i]) for i in range(N_LAYERS)]
    for layer in range(N_LAYERS):
        call(cache, layer, k[layer, :, :longest], v[layer, :, :longest], [0] * batch)
    for step in range(steps):
        pos = [plen + step for plen in prompts]
        for layer in range(N_LAYERS):
            pick = torch.tensor(pos)[:, None]  # [batch, 1] each sequence's own position
            rows = torch.arange(batch)[:, None]
            qs, ks, vs = q[layer, rows, pick], k[layer, rows, pick], v[layer, rows, pick]
            out = _step(cache, layer, qs, ks, vs, pos)
            _check(out, want[layer][rows, pick], f"layer {layer}, positions {pos}")


def test_rolling_decode_200_steps_matches_sliding_window_recomputation() -> None:
    batch, window, prompt, steps = 2, 16, 5, 200
    n = prompt + steps
    q, k, v = _tokens(batch, n, seed=30)
    cache = sol.RollingKVCache(N_LAYERS, batch, window, N_KV, D)
    want = [full_attention(q[i], k[i], v[i], window) for i in range(N_LAYERS)]
    for layer in range(N_LAYERS):
        call(cache, layer, k[layer, :, :prompt], v[layer, :, :prompt], [0, 0])
    for p in range(prompt, n):
        for layer in range(N_LAYERS):
            s = slice(p, p + 1)
            out = _step(cache, layer, q[layer, :, s], k[layer, :, s], v[layer, :, s], [p, p])
            _check(out, want[layer][:, s], f"W={window}, layer {layer}, position {p}")


def test_rolling_prefill_longer_than_the_window_then_decode_matches_recomputation() -> None:
    batch, window, prompt, steps = 2, 8, 21, 30
    n = prompt + steps
    q, k, v = _tokens(batch, n, seed=40)
    cache = sol.RollingKVCache(N_LAYERS, batch, window, N_KV, D)
    want = [full_attention(q[i], k[i], v[i], window) for i in range(N_LAYERS)]
    for layer in range(N_LAYERS):
        call(cache, layer, k[layer, :, :prompt], v[layer, :, :prompt], [0, 0])
    for p in range(prompt, n):
        for layer in range(N_LAYERS):
            s = slice(p, p + 1)
            out = _step(cache, layer, q[layer, :, s], k[layer, :, s], v[layer, :, s], [p, p])
            _check(out, want[layer][:, s], f"prefill of {prompt} into W={window}, position {p}")


def test_rolling_ragged_rows_and_a_new_sequence_match_sliding_window_recomputation() -> None:
    window, steps, switch, batch = 7, 90, 25, 3
    new = _tokens(batch, steps, seed=50)
    old = _tokens(batch, steps, seed=60)  # what row 1 holds before it takes a new sequence
    want_new = [full_attention(new[0][i], new[1][i], new[2][i], window) for i in range(N_LAYERS)]
    want_old = [full_attention(old[0][i], old[1][i], old[2][i], window) for i in range(N_LAYERS)]
    cache = sol.RollingKVCache(N_LAYERS, batch, window, N_KV, D)
    for step in range(steps):
        # Row 0 decodes from the start. Row 1 switches to a new sequence at `switch`
        # (start_pos 0 again). Row 2 rewrites its first token until step 3, then decodes.
        pos = [step, step if step < switch else step - switch, max(0, step - 3)]
        src = [new, old if step < switch else new, new]
        want = [want_new, want_old if step < switch else want_new, want_new]
        for layer in range(N_LAYERS):
            qs, ks, vs = (
                torch.stack([src[b][i][layer, b, pos[b]] for b in range(batch)])[:, None]
                for i in range(3)
            )
            out = _step(cache, layer, qs, ks, vs, pos)
            expect = torch.stack([want[b][layer][b, pos[b]] for b in range(batch)])[:, None]
            _check(out, expect, f"W={window}, layer {layer}, step {step}, positions {pos}")


def test_rolling_window_longer_than_the_sequence_is_plain_causal() -> None:
    batch, n = 2, 40
    q, k, v = _tokens(batch, n, seed=70)
    cache = sol.RollingKVCache(N_LAYERS, batch, 64, N_KV, D)
    want = [full_attention(q[i], k[i], v[i]) for i in range(N_LAYERS)]
    for p in range(n):
        for layer in range(N_LAYERS):
            s = slice(p, p + 1)
            out = _step(cache, layer, q[layer, :, s], k[layer, :, s], v[layer, :, s], [p, p])
            _check(out, want[layer][:, s], f"W=64 > length, position {p}")
