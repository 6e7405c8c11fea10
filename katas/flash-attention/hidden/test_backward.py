"""flash_attention_backward: gradients against autograd through float64 SDPA.

The suite hands the backward the exact forward results (float64 SDPA's out rounded to
q's dtype, and its log-sum-exp in float32), so a forward bug never shows up here.
"""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from oracle import BFLOAT16_GRADS, FLOAT32, check_close, expected, expected_grads, qkv, randn_like
from torch import Tensor

# (batch, n_heads, n_kv_heads, q_len, kv_len, head_dim, causal, window, offset), (block_q, block_k)
CONFIGS = [
    ((2, 2, 2, 29, 41, 8, False, None, None), (16, 16)),
    ((1, 2, 2, 45, 45, 16, True, None, None), (5, 11)),  # causal prefill
    ((2, 6, 2, 17, 50, 8, True, None, None), (16, 16)),  # a chunk after cached keys, GQA 3:1
    ((1, 4, 1, 36, 36, 8, True, 7, None), (5, 11)),  # sliding window, multi-query
    ((1, 2, 1, 12, 30, 8, True, 5, 9), (16, 16)),  # explicit offset
]
Config = tuple[int, int, int, int, int, int, bool, int | None, int | None]
BACKWARD_ARGS = ("q", "k", "v", "out", "lse", "dout")


def run_backward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    dout: Tensor,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    block: tuple[int, int] = (16, 16),
    scale: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The solution's (dq, dk, dv), given the exact out and lse of the forward; fails if
    the backward changed any of its arguments, so the caller's q, k, v and dout are still
    the values its expected gradients come from."""
    out, lse = expected(q, k, v, causal, window, offset, scale)
    args = (q, k, v, out.to(q.dtype), lse.float(), dout)
    before = tuple(t.clone() for t in args)
    dq, dk, dv = sol.flash_attention_backward(
        *args,
        causal=causal,
        window=window,
        offset=offset,
        scale=scale,
        block_q=block[0],
        block_k=block[1],
    )
    assert_unchanged(args, before)
    return dq, dk, dv


def assert_unchanged(args: tuple[Tensor, ...], before: tuple[Tensor, ...]) -> None:
    for name, now, then in zip(BACKWARD_ARGS, args, before, strict=True):
        assert now.shape == then.shape and now.dtype == then.dtype, (
            f"flash_attention_backward changed the shape or dtype of its argument {name}"
        )
        changed = int((now != then).sum())
        assert changed == 0, (
            f"flash_attention_backward changed {changed} values of its argument {name} "
            "(do not modify the inputs)"
        )


def check_grads(
    got: tuple[Tensor, Tensor, Tensor],
    want: tuple[Tensor, Tensor, Tensor],
    tol: tuple[float, float],
    where: str,
    dtype: torch.dtype,
) -> None:
    assert isinstance(got, tuple | list) and len(got) == 3, (
        f"flash_attention_backward returns (dq, dk, dv), got {type(got).__name__}"
    )
    for name, g, w in zip(("dq", "dk", "dv"), got, want, strict=True):
        check_close(g, w, tol, f"{name}, {where}", dtype)


@pytest.mark.parametrize(("config", "block"), CONFIGS, ids=str)
def test_float32_gradients_equal_autograd_through_sdpa(
    config: Config, block: tuple[int, int]
) -> None:
    b, h, hkv, q_len, kv_len, d, causal, window, offset = config
    q, k, v = qkv(b, h, hkv, q_len, kv_len, d, seed=100 + q_len)
    dout = randn_like(q, seed=q_len)
    got = run_backward(q, k, v, dout, causal, window, offset, block)
    want = expected_grads(q, k, v, dout, causal, window, offset)
    where = (
        f"q [{b}, {h}, {q_len}, {d}], k/v [{b}, {hkv}, {kv_len}, {d}], causal={causal}, "
        f"window={window}, offset={offset}, block_q={block[0]}, block_k={block[1]}"
    )
    check_grads(got, want, FLOAT32, where, torch.float32)


def test_backward_worked_example() -> None:
    # head_dim 1, scale 1: q = 1, k = [0, ln 3] give P = [1/4, 3/4]; v = [0, 4] give
    # out = 3. With dout = 1: dV = P = [0.25, 0.75]; dP = v = [0, 4]; D = dout * out = 3;
    # dS = P * (dP - D) = [-0.75, 0.75]; dQ = dS . k = 0.75 ln 3; dK = dS * q.
    q = torch.ones(1, 1, 1, 1)
    k = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 2, 1)
    v = torch.tensor([0.0, 4.0]).view(1, 1, 2, 1)
    out = torch.full((1, 1, 1, 1), 3.0)
    lse = torch.full((1, 1, 1), math.log(4.0))
    dq, dk, dv = sol.flash_attention_backward(
        q, k, v, out, lse, torch.ones(1, 1, 1, 1), block_q=1, block_k=1
    )
    got = (float(dq), dk.flatten().tolist(), dv.flatten().tolist())
    assert math.isclose(got[0], 0.75 * math.log(3.0), rel_tol=1e-5), (
        f"dq = dS . k = 0.75 ln 3 = 0.8240, got {got[0]:.6g}"
    )
    assert all(
        math.isclose(a, b, abs_tol=1e-6) for a, b in zip(got[1], [-0.75, 0.75], strict=True)
    ), f"dk = dS * q = [-0.75, 0.75] (dS = P * (dP - D) with D = 3), got {got[1]}"
    assert all(
        math.isclose(a, b, abs_tol=1e-6) for a, b in zip(got[2], [0.25, 0.75], strict=True)
    ), f"dv = P^T dout = [0.25, 0.75], got {got[2]}"


@pytest.mark.parametrize("block", [(1, 1), (4, 7), (1000, 1000)], ids=str)
def test_gradients_do_not_depend_on_the_tile_sizes(block: tuple[int, int]) -> None:
    q, k, v = qkv(1, 4, 2, 11, 19, 8, seed=12)
    dout = randn_like(q, seed=13)
    got = run_backward(q, k, v, dout, True, 6, None, block)
    want = expected_grads(q, k, v, dout, True, 6)
    check_grads(got, want, FLOAT32, f"causal window 6, block {block}", torch.float32)


def test_shared_kv_heads_sum_the_gradients_of_their_query_heads() -> None:
    # 4 query heads over 1 kv head: dk and dv are [1, 1, kv_len, d], the sum of the four
    # heads' contributions (what backpropagating through repeat_interleave gives).
    q, k, v = qkv(1, 4, 1, 8, 10, 8, seed=14)
    dout = randn_like(q, seed=15)
    _, dk, dv = run_backward(q, k, v, dout, True)
    want = expected_grads(q, k, v, dout, True)
    check_close(dk, want[1], FLOAT32, "dk of one kv head shared by 4 query heads", torch.float32)
    check_close(dv, want[2], FLOAT32, "dv of one kv head shared by 4 query heads", torch.float32)


def test_empty_rows_get_zero_gradients_not_nan() -> None:
    # q_len 6 over kv_len 4, causal: rows 0 and 1 allow no key; their lse is -inf.
    q, k, v = qkv(1, 2, 2, 6, 4, 8, seed=16)
    dout = randn_like(q, seed=17)
    dq, dk, dv = run_backward(q, k, v, dout, True, block=(4, 4))
    for name, g in (("dq", dq), ("dk", dk), ("dv", dv)):
        assert not torch.isnan(g).any(), (
            f"{name} has NaN: an empty row (lse = -inf) must contribute nothing"
        )
    assert torch.equal(dq[:, :, :2], torch.zeros(1, 2, 2, 8)), (
        f"dq of the empty rows 0 and 1 must be zero, got {dq[0, 0, :2].tolist()}"
    )
    want = expected_grads(q, k, v, dout, True)
    check_grads((dq, dk, dv), want, FLOAT32, "q_len 6 over kv_len 4 causal", torch.float32)


def test_explicit_scale_reaches_every_gradient() -> None:
    q, k, v = qkv(1, 2, 2, 10, 10, 16, seed=18)
    dout = randn_like(q, seed=19)
    got = run_backward(q, k, v, dout, True, block=(4, 4), scale=0.3)
    want = expected_grads(q, k, v, dout, True, scale=0.3)
    check_grads(got, want, FLOAT32, "scale=0.3", torch.float32)


@pytest.mark.parametrize(
    "config",
    [
        (1, 4, 2, 16, 300, 16, False, None, None),
        (2, 2, 1, 40, 100, 16, True, 16, None),
    ],
    ids=str,
)
def test_bfloat16_gradients_are_bfloat16_accumulated_in_float32(config: Config) -> None:
    b, h, hkv, q_len, kv_len, d, causal, window, offset = config
    q, k, v = qkv(b, h, hkv, q_len, kv_len, d, seed=20, dtype=torch.bfloat16)
    dout = randn_like(q, seed=21)
    got = run_backward(q, k, v, dout, causal, window, offset, (32, 32))
    want = expected_grads(q, k, v, dout, causal, window, offset)
    where = f"bfloat16, q_len {q_len}, kv_len {kv_len}, causal={causal}, window={window}"
    check_grads(got, want, BFLOAT16_GRADS, where, torch.bfloat16)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_backward_does_not_modify_its_arguments(dtype: torch.dtype) -> None:
    # Causal q_len 6 over kv_len 4 with window 2: rows 0 and 1 are empty (lse = -inf),
    # the case a guard written in place on lse would change.
    q, k, v = qkv(1, 4, 2, 6, 4, 8, seed=22, dtype=dtype)
    dout = randn_like(q, seed=23)
    out, lse = expected(q, k, v, True, 2)
    args = (q, k, v, out.to(dtype), lse.float(), dout)
    before = tuple(t.clone() for t in args)
    got = sol.flash_attention_backward(*args, causal=True, window=2, block_q=4, block_k=4)
    assert_unchanged(args, before)
    want = expected_grads(before[0], before[1], before[2], before[5], True, 2)
    tol = FLOAT32 if dtype == torch.float32 else BFLOAT16_GRADS
    check_grads(got, want, tol, f"q_len 6 over kv_len 4 causal window 2, {dtype}", dtype)


@pytest.mark.parametrize(
    ("n_heads", "causal", "window"),
    [(3, False, None), (2, True, 0), (2, False, 2)],
    ids=["3_query_heads_over_2_kv_heads", "window_0", "window_without_causal"],
)
def test_backward_invalid_arguments_raise_value_error(
    n_heads: int, causal: bool, window: int | None
) -> None:
    # The forward's argument rules hold for the backward too (prompt: "Shapes, heads,
    # scale" and "Masks and positions").
    q, k, v = qkv(1, n_heads, 2, 4, 4, 8, seed=24)
    out, lse, dout = torch.zeros_like(q), torch.zeros(1, n_heads, 4), randn_like(q, seed=25)
    with pytest.raises(ValueError):
        sol.flash_attention_backward(q, k, v, out, lse, dout, causal=causal, window=window)
