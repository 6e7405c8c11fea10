"""interleaved_to_half / half_to_interleaved: direction, heads, inverse, and the
identity that makes the converted model the same model."""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import check_close, half_order, loop_interleaved_to_half, randn

import reference.rope_decode as ref

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
TO_HALF_ROWS = [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15]
TO_INTERLEAVED_ROWS = [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15]


def row_order(w: torch.Tensor) -> list[int]:
    return [int(v) for v in w[:, 0].tolist()]


def test_interleaved_to_half_worked_example() -> None:
    got = row_order(sol.interleaved_to_half(torch.arange(16.0)[:, None], 2))
    assert got == TO_HALF_ROWS, (
        f"d=8, 2 heads: new row j is old row 2j, new row 4 + j old row 2j + 1; expected rows "
        f"{TO_HALF_ROWS}, got {got}"
    )


def test_half_to_interleaved_worked_example() -> None:
    got = row_order(sol.half_to_interleaved(torch.arange(16.0)[:, None], 2))
    assert got == TO_INTERLEAVED_ROWS, (
        f"d=8, 2 heads: new row 2j is old row j, new row 2j + 1 old row 4 + j; expected rows "
        f"{TO_INTERLEAVED_ROWS}, got {got}"
    )


@pytest.mark.parametrize(("n_heads", "head_dim"), [(4, 8), (3, 16), (1, 32), (8, 2)])
def test_each_head_is_permuted_on_its_own(n_heads: int, head_dim: int) -> None:
    w = randn(n_heads * head_dim, 5, seed=n_heads * head_dim)
    got = sol.interleaved_to_half(w, n_heads)
    want = loop_interleaved_to_half(w, n_heads)
    assert torch.equal(got, want), (
        f"{n_heads} heads of {head_dim} rows: expected rows {row_order(want)[:24]}..., "
        f"got {row_order(got)[:24]}... (rows are permuted within each head, columns kept)"
    )


@settings(max_examples=30, phases=NO_SHRINK)
@given(
    st.integers(1, 6), st.sampled_from([2, 4, 8, 16, 64]), st.integers(1, 7), st.integers(0, 999)
)
def test_half_to_interleaved_inverts_interleaved_to_half(
    n_heads: int, head_dim: int, cols: int, seed: int
) -> None:
    w = randn(n_heads * head_dim, cols, seed=seed)
    there = sol.interleaved_to_half(w, n_heads)
    assert torch.equal(there, loop_interleaved_to_half(w, n_heads)), (
        f"interleaved_to_half, {n_heads} heads of {head_dim}: rows in the wrong order"
    )
    back = sol.half_to_interleaved(there, n_heads)
    assert torch.equal(back, w), (
        f"half_to_interleaved(interleaved_to_half(w)) must give w back ({n_heads} heads of "
        f"{head_dim})"
    )


def test_rotating_converted_projections_equals_reordering_rotated_ones() -> None:
    """apply_rope_half(heads(x @ interleaved_to_half(w).T)) is
    apply_rope_interleaved(heads(x @ w.T)) with each head reordered [0, 2, ..., 1, 3, ...]."""
    n_heads, d, dim = 4, 16, 24
    w = randn(n_heads * d, dim, seed=10)
    x = randn(2, 5, dim, seed=11)
    w_half = sol.interleaved_to_half(w, n_heads)
    half = ref.apply_rope_half((x @ w_half.T).unflatten(-1, (n_heads, d)), 7)
    interleaved = ref.apply_rope_interleaved((x @ w.T).unflatten(-1, (n_heads, d)), 7)
    check_close(
        half,
        interleaved[..., half_order(d)],
        1e-4,
        1e-4,
        "RoPE (half) of the converted weights' projection vs RoPE (interleaved) of the "
        "original's, reordered",
    )


def test_attention_scores_survive_the_conversion_with_gqa() -> None:
    """wq converted with n_heads, wk with n_kv_heads: every q.k is the original model's."""
    n_heads, n_kv_heads, d, dim, seq = 8, 2, 16, 32, 6
    wq = randn(n_heads * d, dim, seed=12)
    wk = randn(n_kv_heads * d, dim, seed=13)
    x = randn(1, seq, dim, seed=14)
    group = n_heads // n_kv_heads

    def scores(wq_: torch.Tensor, wk_: torch.Tensor, half: bool) -> torch.Tensor:
        rope = ref.apply_rope_half if half else ref.apply_rope_interleaved
        q = rope((x @ wq_.T).unflatten(-1, (n_heads, d)), 0)  # [1, seq, n_heads, d]
        k = rope((x @ wk_.T).unflatten(-1, (n_kv_heads, d)), 0)
        k = k.repeat_interleave(group, dim=2)
        return torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d)

    original = scores(wq, wk, half=False)
    converted = scores(
        sol.interleaved_to_half(wq, n_heads), sol.interleaved_to_half(wk, n_kv_heads), True
    )
    check_close(
        converted,
        original,
        1e-3,
        1e-4,
        "q.k after converting wq (8 heads) and wk (2 kv heads) to the half layout",
    )
