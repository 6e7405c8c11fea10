"""A few examples from the prompt. Run with `drill test` (or pytest)."""

from __future__ import annotations

import math

import solution as sol
import torch
import torch.nn.functional as F


def test_online_softmax_worked_example() -> None:
    q = torch.ones(1, 1, 1, 1)
    k = torch.tensor([1.0, 3.0, 2.0, 5.0]).view(1, 1, 4, 1)
    v = torch.tensor([10.0, 20.0, 30.0, 40.0]).view(1, 1, 4, 1)
    out, lse = sol.flash_attention(q, k, v, block_q=1, block_k=2)
    assert math.isclose(float(out), 36.88057, rel_tol=1e-5)
    assert math.isclose(float(lse), 5.185182, rel_tol=1e-5)
    assert lse.dtype == torch.float32 and lse.shape == (1, 1, 1)


def test_chunk_after_cached_keys_with_a_window() -> None:
    # q = 0 weighs every allowed key equally; v = identity shows which keys those are.
    q, k, v = torch.zeros(1, 1, 3, 6), torch.zeros(1, 1, 6, 6), torch.eye(6).view(1, 1, 6, 6)
    out, _ = sol.flash_attention(q, k, v, causal=True, window=3, block_q=2, block_k=4)
    seen = (out[0, 0] > 0).int().tolist()
    assert seen == [[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1]]


def test_equals_sdpa_with_gqa_and_tiles_that_do_not_divide() -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 37, 16, generator=g)
    k = torch.randn(2, 2, 37, 16, generator=g)
    v = torch.randn(2, 2, 37, 16, generator=g)
    out, _ = sol.flash_attention(q, k, v, causal=True, block_q=16, block_k=10)
    want = F.scaled_dot_product_attention(
        q, k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1), is_causal=True
    )
    torch.testing.assert_close(out, want, atol=1e-4, rtol=1e-4)


def test_empty_rows_are_zero_with_lse_minus_inf() -> None:
    q, k, v = torch.randn(1, 1, 4, 8), torch.randn(1, 1, 2, 8), torch.randn(1, 1, 2, 8)
    out, lse = sol.flash_attention(q, k, v, causal=True)  # offset 2 - 4 = -2
    assert torch.equal(out[0, 0, :2], torch.zeros(2, 8))
    assert lse[0, 0, :2].tolist() == [-math.inf, -math.inf]


def test_backward_equals_autograd_through_sdpa() -> None:
    g = torch.Generator().manual_seed(1)
    q = torch.randn(1, 2, 20, 8, generator=g, requires_grad=True)
    k = torch.randn(1, 2, 20, 8, generator=g, requires_grad=True)
    v = torch.randn(1, 2, 20, 8, generator=g, requires_grad=True)
    dout = torch.randn(1, 2, 20, 8, generator=g)
    F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(dout)
    with torch.no_grad():
        out, lse = sol.flash_attention(q, k, v, causal=True, block_q=8, block_k=8)
        grads = sol.flash_attention_backward(
            q, k, v, out, lse, dout, causal=True, block_q=8, block_k=8
        )
    for got, want in zip(grads, (q.grad, k.grad, v.grad), strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_backward_worked_example() -> None:
    q = torch.ones(1, 1, 1, 1)
    k = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 2, 1)
    v = torch.tensor([0.0, 4.0]).view(1, 1, 2, 1)
    out, lse = torch.full((1, 1, 1, 1), 3.0), torch.full((1, 1, 1), math.log(4.0))
    dq, dk, dv = sol.flash_attention_backward(q, k, v, out, lse, torch.ones(1, 1, 1, 1))
    assert math.isclose(float(dq), 0.75 * math.log(3.0), rel_tol=1e-5)
    torch.testing.assert_close(dk.flatten(), torch.tensor([-0.75, 0.75]))
    torch.testing.assert_close(dv.flatten(), torch.tensor([0.25, 0.75]))
