"""decode_attention: GQA mapping, scale, ragged lengths and stale slots, float32 inside."""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import STALE_KEY, check_close, randn, slow_attention, stale_caches

import reference.rope_decode as ref

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
F32 = {"atol": 1e-4, "rtol": 1e-4}
BF16 = {"atol": 1e-2, "rtol": 1e-2}


def test_worked_example() -> None:
    q = torch.tensor([[[2.0, 0.0, 0.0, 0.0]]])
    k = torch.tensor([[[[0.0, 0, 0, 0], [math.log(3), 0, 0, 0], [100.0, 100, 100, 100]]]])
    v = torch.tensor([[[[4.0, 0, 0, 0], [0.0, 8, 0, 0], [100.0, 100, 100, 100]]]])
    got = sol.decode_attention(q, k, v, torch.tensor([2]))
    check_close(
        got,
        torch.tensor([[[1.0, 6.0, 0.0, 0.0]]]),
        1e-4,
        1e-4,
        "scores [0, ln 3] give weights [1/4, 3/4] and output [1, 6, 0, 0]; slot 2 is stale",
    )


def test_query_head_h_reads_kv_head_h_over_group() -> None:
    """8 query heads over 2 kv heads: heads 0-3 read kv head 0, heads 4-7 kv head 1."""
    n_heads, n_kv_heads, d = 8, 2, 4
    q = randn(1, n_heads, d, seed=1)
    k = randn(1, n_kv_heads, 3, d, seed=2)
    v = torch.zeros(1, n_kv_heads, 3, d)
    v[0, 1] = 1.0  # every value of kv head 1 is 1, of kv head 0 is 0
    got = sol.decode_attention(q, k, v, torch.tensor([3]))[0, :, 0]
    read = [round(float(x)) for x in got]
    want = [h // 4 for h in range(n_heads)]
    assert read == want, f"query head h must read kv head h // 4: expected {want}, read {read}"


def test_scores_are_scaled_by_one_over_sqrt_head_dim() -> None:
    """d = 16: q . k1 = 4 ln 3, scaled by 1/4 to ln 3, gives weights [1/4, 3/4]."""
    d = 16
    q = torch.zeros(1, 1, d)
    q[0, 0, 0] = 4 * math.log(3)
    k = torch.zeros(1, 1, 2, d)
    k[0, 0, 1, 0] = 1.0
    v = torch.zeros(1, 1, 2, d)
    v[0, 0, 1, 0] = 1.0
    got = float(sol.decode_attention(q, k, v, torch.tensor([2]))[0, 0, 0])
    assert abs(got - 0.75) < 1e-4, (
        f"scale 1/sqrt(16): the second key's weight must be 3/4, got {got:.5f}"
    )


@pytest.mark.parametrize("lengths", [[9, 4, 1], [1, 9, 6]])
def test_slots_past_each_length_are_ignored(lengths: list[int]) -> None:
    k, v = stale_caches(3, 2, 9, 8, lengths, seed=3)
    q = randn(3, 4, 8, seed=4)
    got = sol.decode_attention(q, k, v, torch.tensor(lengths))
    check_close(
        got,
        slow_attention(q, k, v, lengths),
        **F32,
        what=f"lengths {lengths}: sequence b attends only its first lengths[b] slots",
    )


def test_the_slot_right_after_a_length_is_not_attended() -> None:
    """Only slot lengths[0] of sequence 0 is stale: attending it (<= instead of <) shows."""
    lengths = [5, 8]
    k = randn(2, 1, 8, 4, seed=5)
    v = randn(2, 1, 8, 4, seed=6)
    k[0, :, 5] = STALE_KEY
    v[0, :, 5] = -500.0
    q = torch.ones(2, 1, 4)
    got = sol.decode_attention(q, k, v, torch.tensor(lengths))
    check_close(
        got,
        slow_attention(q, k, v, lengths),
        **F32,
        what="lengths [5, 8]: slot 5 of sequence 0 is past its length",
    )


def test_a_length_of_one_returns_the_first_value() -> None:
    k, v = stale_caches(2, 2, 6, 4, [1, 1], seed=7)
    q = randn(2, 4, 4, seed=8)
    got = sol.decode_attention(q, k, v, torch.tensor([1, 1]))
    want = v[:, :, 0].repeat_interleave(2, dim=1)
    check_close(got, want, **F32, what="one valid slot: every head returns that slot's value")


@settings(max_examples=30, phases=NO_SHRINK)
@given(
    st.integers(1, 4),
    st.sampled_from([(1, 1), (4, 4), (4, 1), (8, 2), (6, 3), (32, 4), (32, 8)]),
    st.sampled_from([4, 8, 16, 64]),
    st.integers(1, 40),
    st.integers(0, 10_000),
)
def test_random_ragged_batches_match_a_float64_loop(
    batch: int, heads: tuple[int, int], d: int, max_len: int, seed: int
) -> None:
    n_heads, n_kv_heads = heads
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (batch,), generator=g).tolist()
    k, v = stale_caches(batch, n_kv_heads, max_len, d, lengths, seed=seed)
    q = randn(batch, n_heads, d, seed=seed + 2)
    got = sol.decode_attention(q, k, v, torch.tensor(lengths))
    assert got.dtype == torch.float32, f"float32 q gives float32 output, got {got.dtype}"
    check_close(
        got,
        slow_attention(q, k, v, lengths),
        **F32,
        what=f"{n_heads} heads over {n_kv_heads}, d={d}, max_len={max_len}, lengths {lengths}",
    )


def test_bfloat16_scores_and_softmax_are_float32() -> None:
    """Scores 100.234375 and 100.265625 in float32; rounded to bfloat16 they are 100 and 100.5."""
    q = torch.tensor([[[16.0, 1.0, 0.0, 0.0]]], dtype=torch.bfloat16)  # scale 1/2
    k = torch.tensor([[[[12.5, 0.46875, 0, 0], [12.5, 0.53125, 0, 0]]]], dtype=torch.bfloat16)
    v = torch.tensor([[[[0.0, 0, 0, 0], [1.0, 0, 0, 0]]]], dtype=torch.bfloat16)
    got = sol.decode_attention(q, k, v, torch.tensor([2]))
    assert got.dtype == torch.bfloat16, f"bfloat16 q gives bfloat16 output, got {got.dtype}"
    want = 1 / (1 + math.exp(-0.03125))  # the second key's float32 weight
    value = float(got[0, 0, 0])
    assert abs(value - want) < 1e-2, (
        f"with float32 scores and softmax the output is {want:.4f}; got {value:.4f} "
        f"(bfloat16 scores give {1 / (1 + math.exp(-0.5)):.4f})"
    )


def test_bfloat16_caches_match_the_float32_computation() -> None:
    lengths = [12, 5]
    k, v = stale_caches(2, 2, 12, 32, lengths, seed=9, dtype=torch.bfloat16)
    q = (randn(2, 8, 32, seed=10) * 4).bfloat16()
    got = sol.decode_attention(q, k, v, torch.tensor(lengths))
    assert got.dtype == torch.bfloat16, f"bfloat16 q gives bfloat16 output, got {got.dtype}"
    want = ref.decode_attention(q.float(), k.float(), v.float(), torch.tensor(lengths))
    check_close(got, want, **BF16, what="bfloat16 q and caches, lengths [12, 5]")


def test_the_caches_are_not_modified() -> None:
    k, v = stale_caches(2, 2, 6, 4, [6, 3], seed=11)
    k0, v0 = k.clone(), v.clone()
    sol.decode_attention(randn(2, 4, 4, seed=12), k, v, torch.tensor([6, 3]))
    assert torch.equal(k, k0) and torch.equal(v, v0), "decode_attention modified the caches"
