"""The layer against full attention over the whole sequence, and its invariances."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import SMALL, first_bad_position, full_attention, layer, max_error, randn, run, weights

from reference.rope import apply_rope, rope_cos_sin

ATOL = 1e-4


def check(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    assert tuple(got.shape) == tuple(want.shape), (
        f"{what}: expected output shape {tuple(want.shape)}, got {tuple(got.shape)}"
    )
    bad = first_bad_position(got, want, ATOL)
    assert bad is None, (
        f"{what}: the output first differs from full sliding-window attention over the "
        f"whole sequence at position {bad} (window {SMALL['window']} unless stated), "
        f"max error {max_error(got, want):.3g}"
    )


def test_prompt_shorter_than_the_window_matches_full_attention() -> None:
    attn, s = layer(sol)
    x = randn(2, 3, 16, seed=1)
    check(attn.prefill(x), full_attention(x, weights(attn), s), "3-token prefill, W=4")


def test_prompt_longer_than_the_window_matches_full_attention() -> None:
    attn, s = layer(sol)
    x = randn(2, 13, 16, seed=2)
    check(attn.prefill(x), full_attention(x, weights(attn), s), "13-token prefill, W=4")


def test_decode_past_the_window_matches_full_attention() -> None:
    attn, s = layer(sol)
    x = randn(1, 14, 16, seed=3)
    check(run(attn, x, 2), full_attention(x, weights(attn), s), "2-token prefill, 12 decodes")


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5, 7])
def test_chunked_prefill_matches_full_attention(chunk: int) -> None:
    attn, s = layer(sol)
    x = randn(2, 15, 16, seed=4)
    check(attn.prefill(x, chunk), full_attention(x, weights(attn), s), f"chunk size {chunk}")


def test_chunked_prefill_equals_one_shot_prefill_for_every_chunk_size() -> None:
    attn, _ = layer(sol, seed=5)
    x = randn(1, 12, 16, seed=5)
    one_shot = attn.prefill(x)
    for chunk in range(1, 13):
        got = attn.prefill(x, chunk)
        bad = first_bad_position(got, one_shot, ATOL)
        assert bad is None, (
            f"a 12-token prompt in chunks of {chunk} (W=4) must give the one-shot "
            f"prefill's output; it first differs at position {bad}"
        )


@pytest.mark.parametrize("chunk", [None, 5, 6, 9])
def test_decode_after_a_prompt_longer_than_the_window_matches_full_attention(
    chunk: int | None,
) -> None:
    attn, s = layer(sol)
    x = randn(2, 14, 16, seed=6)
    check(run(attn, x, 10, chunk), full_attention(x, weights(attn), s), f"prompt 10 in {chunk}")


def test_cache_after_prefill_holds_the_roped_keys_of_the_last_w_positions() -> None:
    attn, s = layer(sol)
    x = randn(1, 10, 16, seed=7)
    attn.prefill(x, 3)
    w = weights(attn)
    k = (x.double() @ w["wk"].double().T).view(1, 10, 2, 4)
    cos, sin = rope_cos_sin(torch.arange(10), 4, s["rope_theta"], dtype=torch.float64)
    _, k = apply_rope(k, k, cos, sin)
    cache_k = attn.cache.k
    for p in range(6, 10):
        err = float((cache_k[0, p % 4].double() - k[0, p]).abs().max())
        assert err < ATOL, (
            f"after a 10-token prefill (W=4), slot {p % 4} must hold position {p}'s key "
            f"rotated at position {p}; max error {err:.3g}"
        )


def test_output_ignores_tokens_older_than_the_window() -> None:
    attn, _ = layer(sol)
    x = randn(1, 12, 16, seed=8)
    y = x.clone()
    y[:, 0] += 5.0
    for prompt, chunk in [(12, None), (12, 3), (2, None)]:
        a, b = run(attn, x, prompt, chunk), run(attn, y, prompt, chunk)
        changed = [p for p in range(4, 12) if not torch.allclose(a[0, p], b[0, p], atol=ATOL)]
        assert not changed, (
            f"with W=4 only positions 0..3 may see token 0, but changing it changed "
            f"positions {changed} (prompt {prompt}, chunk {chunk})"
        )


def test_batch_of_two_equals_two_batches_of_one() -> None:
    attn, _ = layer(sol)
    x = randn(2, 11, 16, seed=9)
    both = run(attn, x, 6, 4)
    for b in range(2):
        alone = run(attn, x[b : b + 1], 6, 4)
        err = max_error(both[b : b + 1], alone)
        assert err < ATOL, f"sequence {b} in a batch of 2 differs from alone by {err:.3g}"


def test_window_of_one_attends_only_to_itself() -> None:
    attn, s = layer(sol, window=1)
    x = randn(1, 7, 16, seed=10)
    check(run(attn, x, 3, 2), full_attention(x, weights(attn), s), "W=1")


def test_window_longer_than_the_sequence_is_plain_causal_attention() -> None:
    attn, s = layer(sol, window=32)
    x = randn(2, 9, 16, seed=11)
    check(run(attn, x, 5, 2), full_attention(x, weights(attn), s), "W=32 over 9 tokens")


@pytest.mark.parametrize(
    ("n_heads", "n_kv_heads"), [(4, 1), (4, 4), (8, 2), (6, 3)], ids=["mqa", "mha", "g4", "g2"]
)
def test_query_heads_read_their_own_kv_head(n_heads: int, n_kv_heads: int) -> None:
    attn, s = layer(sol, n_heads=n_heads, n_kv_heads=n_kv_heads, window=3)
    x = randn(1, 8, 16, seed=12)
    check(
        run(attn, x, 5, 2),
        full_attention(x, weights(attn), s),
        f"{n_heads} query heads over {n_kv_heads} kv heads (head h reads kv head h // group)",
    )


def test_rope_uses_absolute_positions_past_the_window() -> None:
    attn, s = layer(sol, rope_theta=100.0, window=3)
    x = randn(1, 20, 16, seed=13)
    check(run(attn, x, 7, 3), full_attention(x, weights(attn), s), "20 tokens, theta=100, W=3")


def test_prefill_starts_new_sequences() -> None:
    attn, _ = layer(sol)
    x = randn(1, 9, 16, seed=14)
    first = run(attn, x, 6, 2)
    attn.prefill(randn(1, 5, 16, seed=15))
    again = run(attn, x, 6, 2)
    assert max_error(first, again) < ATOL, "a second prefill must not see the first one's tokens"


def test_decode_before_any_prefill_raises() -> None:
    attn, _ = layer(sol)
    with pytest.raises(ValueError):
        attn.decode(randn(1, 1, 16, seed=16))


def test_forward_must_continue_the_cache() -> None:
    attn, _ = layer(sol)
    attn.prefill(randn(1, 5, 16, seed=17))
    with pytest.raises(ValueError):
        attn.forward(randn(1, 1, 16, seed=18), 3)
