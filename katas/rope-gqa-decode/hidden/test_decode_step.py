"""decode_step: rotate at position lengths[b], write at index lengths[b], attend
lengths[b] + 1 slots (its own key included), leave everything else alone."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import STALE_KEY, STALE_VALUE, check_close, randn, stale_caches

import reference.rope_decode as ref
from reference.attention import attention

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
F32 = {"atol": 1e-4, "rtol": 1e-4}
LAYOUTS = [False, True]


def layout_name(interleaved: bool) -> str:
    return "interleaved" if interleaved else "half"


def new_token(
    batch: int, n_heads: int, n_kv_heads: int, d: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        randn(batch, n_heads, d, seed=seed),
        randn(batch, n_kv_heads, d, seed=seed + 1),
        randn(batch, n_kv_heads, d, seed=seed + 2),
    )


@pytest.mark.parametrize("interleaved", LAYOUTS)
def test_the_new_key_is_rotated_at_position_lengths_and_written_at_index_lengths(
    interleaved: bool,
) -> None:
    lengths = [3, 1, 6]
    k_cache, v_cache = stale_caches(3, 2, 8, 16, lengths, seed=1)
    q, k, v = new_token(3, 4, 2, 16, seed=2)
    sol.decode_step(q, k, v, k_cache, v_cache, torch.tensor(lengths), 10000.0, interleaved)
    rope = ref.apply_rope_interleaved if interleaved else ref.apply_rope_half
    rotated = rope(k[:, None], torch.tensor(lengths))[:, 0]  # [batch, n_kv, d]
    for b, n in enumerate(lengths):
        check_close(
            k_cache[b, :, n],
            rotated[b],
            1e-4,
            1e-4,
            f"{layout_name(interleaved)}: k_cache[{b}, :, {n}] must hold the new key rotated "
            f"at position {n}",
        )
        check_close(
            v_cache[b, :, n],
            v[b],
            0.0,
            0.0,
            f"v_cache[{b}, :, {n}] must hold the new value as given (values are never rotated)",
        )


def test_no_other_slot_changes_and_lengths_stay_as_they_were() -> None:
    lengths = torch.tensor([3, 0, 7])
    k_cache, v_cache = stale_caches(3, 2, 8, 8, [3, 0, 7], seed=3)
    k_before, v_before = k_cache.clone(), v_cache.clone()
    q, k, v = new_token(3, 6, 2, 8, seed=4)
    sol.decode_step(q, k, v, k_cache, v_cache, lengths)
    assert lengths.tolist() == [3, 0, 7], (
        f"decode_step must leave lengths to the caller; it became {lengths.tolist()}"
    )
    for b, n in enumerate([3, 0, 7]):
        others = [i for i in range(8) if i != n]
        assert torch.equal(k_cache[b, :, others], k_before[b, :, others]), (
            f"sequence {b}: only slot {n} of k_cache may change"
        )
        assert torch.equal(v_cache[b, :, others], v_before[b, :, others]), (
            f"sequence {b}: only slot {n} of v_cache may change"
        )


@pytest.mark.parametrize("interleaved", LAYOUTS)
def test_a_new_sequence_attends_only_its_own_key(interleaved: bool) -> None:
    """lengths[0] = 0: one key, its own, so every query head of it returns its own value."""
    k_cache, v_cache = stale_caches(2, 2, 5, 8, [0, 4], seed=5)
    q, k, v = new_token(2, 4, 2, 8, seed=6)
    out = sol.decode_step(q, k, v, k_cache, v_cache, torch.tensor([0, 4]), 10000.0, interleaved)
    check_close(
        out[0],
        v[0].repeat_interleave(2, dim=0),
        1e-4,
        1e-4,
        "a sequence with no cached token attends its own new key only, so each head returns "
        "its kv head's new value",
    )


@pytest.mark.parametrize("interleaved", LAYOUTS)
def test_token_by_token_decoding_equals_causal_attention_over_the_sequence(
    interleaved: bool,
) -> None:
    """Six steps from an empty cache: step t is row t of causal attention over the six
    tokens rotated at positions 0..5."""
    n_heads, n_kv_heads, d, steps = 4, 2, 16, 6
    qs = randn(1, steps, n_heads, d, seed=7)
    ks = randn(1, steps, n_kv_heads, d, seed=8)
    vs = randn(1, steps, n_kv_heads, d, seed=9)
    rope = ref.apply_rope_interleaved if interleaved else ref.apply_rope_half
    causal = torch.ones(steps, steps, dtype=torch.bool).tril()
    want = attention(rope(qs, 0), rope(ks, 0), vs, causal)  # [1, steps, n_heads, d]
    k_cache = torch.full((1, n_kv_heads, 8, d), STALE_KEY)
    v_cache = torch.full((1, n_kv_heads, 8, d), STALE_VALUE)
    for t in range(steps):
        got = sol.decode_step(
            qs[:, t], ks[:, t], vs[:, t], k_cache, v_cache, torch.tensor([t]), 10000.0, interleaved
        )
        check_close(
            got,
            want[:, t],
            **F32,
            what=f"{layout_name(interleaved)}: step {t} (lengths [{t}]) vs row {t} of causal "
            "attention",
        )


@settings(max_examples=25, phases=NO_SHRINK)
@given(
    st.booleans(),
    st.integers(1, 4),
    st.sampled_from([(2, 1), (4, 4), (8, 2), (32, 8)]),
    st.sampled_from([4, 16, 64]),
    st.integers(2, 40),
    st.sampled_from([10000.0, 1e6]),
    st.integers(0, 10_000),
)
def test_random_ragged_batches_match_the_reference(
    interleaved: bool,
    batch: int,
    heads: tuple[int, int],
    d: int,
    max_len: int,
    base: float,
    seed: int,
) -> None:
    n_heads, n_kv_heads = heads
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, max_len, (batch,), generator=g)
    k_cache, v_cache = stale_caches(batch, n_kv_heads, max_len, d, lengths.tolist(), seed=seed)
    q, k, v = new_token(batch, n_heads, n_kv_heads, d, seed=seed + 3)
    want_k, want_v = k_cache.clone(), v_cache.clone()
    want = ref.decode_step(q, k, v, want_k, want_v, lengths, base, interleaved)
    got = sol.decode_step(q, k, v, k_cache, v_cache, lengths, base, interleaved)
    what = (
        f"{layout_name(interleaved)}, {n_heads} heads over {n_kv_heads}, d={d}, base {base}, "
        f"lengths {lengths.tolist()}"
    )
    check_close(got, want, **F32, what=what)
    check_close(k_cache, want_k, 1e-4, 1e-4, what=f"{what}: k_cache after the step")
    check_close(v_cache, want_v, 0.0, 0.0, what=f"{what}: v_cache after the step")


def test_bfloat16_caches_stay_bfloat16() -> None:
    lengths = torch.tensor([5, 2])
    k_cache, v_cache = stale_caches(2, 2, 8, 32, [5, 2], seed=10, dtype=torch.bfloat16)
    q, k, v = (t.bfloat16() for t in new_token(2, 8, 2, 32, seed=11))
    want_k, want_v = k_cache.clone(), v_cache.clone()
    want = ref.decode_step(q, k, v, want_k, want_v, lengths)
    got = sol.decode_step(q, k, v, k_cache, v_cache, lengths)
    assert got.dtype == torch.bfloat16, f"bfloat16 q gives bfloat16 output, got {got.dtype}"
    assert k_cache.dtype == v_cache.dtype == torch.bfloat16, "the caches keep their dtype"
    check_close(got, want, 5e-2, 5e-2, "bfloat16 q, k, v and caches, lengths [5, 2]")
    check_close(k_cache, want_k, 0.1, 0.0, "bfloat16 k_cache after the step")
