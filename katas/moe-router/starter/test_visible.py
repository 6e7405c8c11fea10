"""A few examples from the prompt. Run with `drill test`."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from solution import load_balancing_loss, moe_forward, route


def test_route_renormalises_the_top_k_probabilities() -> None:
    weights, experts = route(torch.tensor([[1.0, 3.0, 0.0, 2.0]]), 2)
    assert experts.tolist() == [[1, 3]]
    a = math.exp(3) / (math.exp(3) + math.exp(2))
    assert torch.allclose(weights, torch.tensor([[a, 1 - a]]))
    assert weights.dtype == torch.float32 and experts.dtype == torch.int64


def test_load_balancing_loss_worked_example() -> None:
    ln3 = math.log(3)
    logits = torch.tensor([[ln3, 0.0], [ln3, 0.0], [0.0, ln3], [ln3, 0.0]])
    assert abs(float(load_balancing_loss(logits, 1)) - 1.125) < 1e-6


def test_load_balancing_loss_is_k_for_uniform_probabilities() -> None:
    assert abs(float(load_balancing_loss(torch.zeros(6, 4), 2)) - 2.0) < 1e-6


def slow_moe(
    x: torch.Tensor,
    logits: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    w3: torch.Tensor,
    k: int,
) -> torch.Tensor:
    """Token by token, no capacity: the definition, for checking."""
    out = torch.zeros_like(x)
    for t in range(x.shape[0]):
        probs = torch.softmax(logits[t], dim=0)
        top = probs.topk(k)
        for w, e in zip(top.values / top.values.sum(), top.indices.tolist(), strict=True):
            out[t] += w * (w2[e] @ (F.silu(w1[e] @ x[t]) * (w3[e] @ x[t])))
    return out


def test_moe_forward_matches_a_token_by_token_loop() -> None:
    g = torch.Generator().manual_seed(0)
    x, router = torch.randn(10, 8, generator=g), torch.randn(4, 8, generator=g)
    w1, w3 = torch.randn(4, 6, 8, generator=g), torch.randn(4, 6, 8, generator=g)
    w2 = torch.randn(4, 8, 6, generator=g)
    out, logits = moe_forward(x, router, w1, w2, w3, 2)
    assert torch.allclose(logits, x @ router.T, atol=1e-5)
    assert torch.allclose(out, slow_moe(x, logits, w1, w2, w3, 2), atol=1e-4, rtol=1e-4)


def test_capacity_worked_example_of_the_prompt() -> None:
    # Token t's input is one-hot, so the router logits are exactly this table.
    table = torch.tensor([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    x, router = torch.eye(3), table.T.contiguous()
    g = torch.Generator().manual_seed(1)
    w1, w3 = torch.randn(3, 5, 3, generator=g), torch.randn(3, 5, 3, generator=g)
    w2 = torch.randn(3, 3, 5, generator=g)
    out, _ = moe_forward(x, router, w1, w2, w3, 2, capacity_factor=0.5)

    def expert(e: int, t: int) -> torch.Tensor:
        return w2[e] @ (F.silu(w1[e] @ x[t]) * (w3[e] @ x[t]))

    a, b = math.e**2 / (math.e**2 + math.e), math.e / (math.e**2 + math.e)
    assert torch.allclose(out[0], a * expert(2, 0) + b * expert(0, 0), atol=1e-5)
    assert torch.allclose(out[1], b * expert(1, 1), atol=1e-5), (
        "surviving weight is not renormalised"
    )
    assert torch.allclose(out[2], torch.zeros(3)), "token 2 lost both experts"
