"""load_balancing_loss: E * sum_e f_e * P_e on hand-worked routings, dtypes, gradients."""

from __future__ import annotations

import math

import oracle
import pytest
import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.judge.remote import vjp

LN = math.log


def value(loss: torch.Tensor) -> float:
    assert isinstance(loss, torch.Tensor), f"the loss must be a tensor, got {type(loss).__name__}"
    return float(loss)


def test_loss_is_one_when_k1_routing_is_perfectly_balanced() -> None:
    # Token t strongly prefers expert t: f = [1/4] * 4 and, by symmetry, P = [1/4] * 4.
    logits = 4.0 * torch.eye(4)
    got = value(sol.load_balancing_loss(logits, 1))
    assert got == pytest.approx(1.0, abs=1e-6), f"balanced k=1 routing must give k = 1, got {got}"


def test_loss_is_k_when_k2_routing_is_perfectly_balanced() -> None:
    # Token t prefers experts t and t+1 (mod 4): each expert is hit by 2 of 4 tokens,
    # f = [1/2] * 4 (sum k = 2), P = [1/4] * 4 by the cyclic symmetry: 4 * 4 * 1/8 = 2.
    logits = torch.zeros(4, 4)
    for t in range(4):
        logits[t, t] = 2.0
        logits[t, (t + 1) % 4] = 1.0
    got = value(sol.load_balancing_loss(logits, 2))
    assert got == pytest.approx(2.0, abs=1e-6), f"balanced k=2 routing must give k = 2, got {got}"


@pytest.mark.parametrize("k", [1, 2, 3])
def test_loss_is_k_for_uniform_router_probabilities_whatever_the_ties(k: int) -> None:
    # P_e = 1/E for every e, so E * sum_e f_e / E = sum_e f_e = k, however ties are broken.
    got = value(sol.load_balancing_loss(torch.zeros(6, 5), k))
    assert got == pytest.approx(k, abs=1e-6), f"uniform probabilities give exactly k={k}, got {got}"


def test_loss_on_an_unbalanced_k1_routing_worked_by_hand() -> None:
    # Three tokens with probs [3/4, 1/4] (expert 0), one with [1/4, 3/4] (expert 1):
    # f = [3/4, 1/4]; P = [(3 * 3/4 + 1/4) / 4, (3 * 1/4 + 3/4) / 4] = [5/8, 3/8]
    # loss = 2 * (3/4 * 5/8 + 1/4 * 3/8) = 2 * 18/32 = 1.125
    logits = torch.tensor([[LN(3), 0.0], [LN(3), 0.0], [0.0, LN(3)], [LN(3), 0.0]])
    got = value(sol.load_balancing_loss(logits, 1))
    assert got == pytest.approx(1.125, abs=1e-6), (
        f"expected 2 * (3/4 * 5/8 + 1/4 * 3/8) = 1.125, got {got}"
    )


def test_loss_counts_every_one_of_the_k_slots() -> None:
    # Every token: probs [0.4, 0.3, 0.2, 0.1], k=2 -> experts 0 and 1 for all tokens.
    # f = [1, 1, 0, 0] (sum k = 2); P = [0.4, 0.3, 0.2, 0.1]; loss = 4 * (0.4 + 0.3) = 2.8.
    # Counting only the first slot would give f = [1, 0, 0, 0] and 1.6.
    logits = torch.tensor([[LN(4), LN(3), LN(2), 0.0]] * 3)
    got = value(sol.load_balancing_loss(logits, 2))
    assert got == pytest.approx(2.8, abs=1e-5), (
        f"f_e counts a token for expert e in any of its k slots: expected 4 * (0.4 + 0.3) = 2.8, got {got}"
    )


def test_loss_uses_full_softmax_probabilities_not_the_renormalised_weights() -> None:
    # Same routing as above: P must be the mean softmax over all E experts
    # ([0.4, 0.3, 0.2, 0.1]), not the renormalised top-k weights ([4/7, 3/7, 0, 0]).
    logits = torch.tensor([[LN(4), LN(3), LN(2), 0.0], [LN(4), LN(3), LN(2), 0.0]])
    got = value(sol.load_balancing_loss(logits, 2))
    assert got == pytest.approx(2.8, abs=1e-5), (
        f"expected 4 * (0.4 + 0.3) = 2.8 with P the mean softmax over all experts, got {got} "
        "(the renormalised top-k weights would give 4.0)"
    )


def test_loss_is_a_float32_scalar_even_for_bfloat16_logits() -> None:
    logits = torch.randn(16, 8, generator=torch.Generator().manual_seed(7)).to(torch.bfloat16)
    loss = sol.load_balancing_loss(logits, 2)
    assert loss.dim() == 0, f"the loss must be a 0-dim tensor, got shape {tuple(loss.shape)}"
    assert loss.dtype == torch.float32, f"the loss is computed in float32, got {loss.dtype}"
    expected = float(oracle.load_balancing_loss(logits.double(), 2))
    assert float(loss) == pytest.approx(expected, abs=1e-5), (
        f"bf16 logits: expected the float32-softmax value {expected:.6f}, got {float(loss):.6f}"
    )


def test_loss_is_finite_for_large_logits() -> None:
    logits = torch.tensor([[1000.0, 0.0, 0.0], [0.0, 1000.0, 0.0]])
    got = value(sol.load_balancing_loss(logits, 1))
    # f = [1/2, 1/2, 0], P = [1/2, 1/2, 0] -> 3 * (1/4 + 1/4) = 1.5
    assert got == pytest.approx(1.5, abs=1e-6), f"expected 1.5 (no overflow), got {got}"


def test_loss_gradient_reaches_the_router_weight() -> None:
    g = torch.Generator().manual_seed(8)
    x = torch.randn(24, 10, generator=g)
    weight = (torch.randn(6, 10, generator=g) / 3).requires_grad_()
    logits = x @ weight.T  # [24, 6], a graph on this side
    # Autograd does not cross into the solution's process: it returns d loss / d logits
    # (the loss's backward runs there), and the chain rule through x @ weight.T
    # finishes here.
    _, grads, requires = vjp(
        sol.load_balancing_loss, (logits.detach(), 2), wrt=[0], cotangents=[torch.tensor(1.0)]
    )
    assert requires == [True], "the loss must be differentiable (do not detach the probabilities)"
    d_logits = grads[0]
    assert d_logits is not None, "no gradient reached the router logits"
    assert tuple(d_logits.shape) == (24, 6), f"d loss / d logits of shape {tuple(d_logits.shape)}"
    logits.backward(d_logits.to(logits.dtype))
    assert weight.grad is not None and bool(weight.grad.abs().sum() > 0), (
        "no gradient reached the router"
    )

    ref_weight = weight.detach().double().requires_grad_()
    oracle.load_balancing_loss(x.double() @ ref_weight.T, 2).backward()
    assert ref_weight.grad is not None
    msg = oracle.close(weight.grad, ref_weight.grad, rtol=1e-4, atol=1e-6)
    assert not msg, f"d loss / d router_weight (through P; f is a count): {msg}"


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    n_tokens=st.integers(1, 40),
    n_experts=st.integers(1, 9),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_loss_matches_the_oracle(
    n_tokens: int, n_experts: int, data: st.DataObject, seed: int
) -> None:
    k = data.draw(st.integers(1, n_experts), label="k")
    logits = torch.randn(n_tokens, n_experts, generator=torch.Generator().manual_seed(seed)) * 2
    got = value(sol.load_balancing_loss(logits, k))
    expected = float(oracle.load_balancing_loss(logits, k))
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6), (
        f"T={n_tokens} E={n_experts} k={k}: expected {expected:.6f}, got {got:.6f}"
    )
