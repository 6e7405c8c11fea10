"""The auxiliary losses: Switch/Mixtral load balancing and the ST-MoE router z-loss."""

from __future__ import annotations

import math

import oracle
import solution as sol
import torch

import reference.moe


def lb_loss(logits: torch.Tensor, top_k: int) -> float:
    _, experts, probs = sol.route(logits, top_k)
    return float(sol.load_balancing_loss(probs, experts))


def test_load_balancing_loss_worked_example() -> None:
    # k=1; probs of tokens 0, 1, 3 are [3/4, 1/4], token 2's [1/4, 3/4]. f = [3/4, 1/4],
    # P = [5/8, 3/8]: loss = 2 * (3/4 * 5/8 + 1/4 * 3/8) = 9/8.
    ln3 = math.log(3)
    logits = torch.tensor([[ln3, 0.0], [ln3, 0.0], [0.0, ln3], [ln3, 0.0]])
    got = lb_loss(logits, 1)
    assert abs(got - 1.125) < 1e-6, f"the worked example's loss is 9/8 = 1.125, got {got:.6f}"


def test_load_balancing_loss_is_top_k_for_perfectly_balanced_routing() -> None:
    got = lb_loss(torch.zeros(6, 4), 2)
    assert abs(got - 2.0) < 1e-6, f"uniform probabilities give exactly top_k = 2, got {got:.6f}"


def test_load_balancing_loss_grows_when_every_token_picks_the_same_expert() -> None:
    # Every token puts ~0.96 on expert 0: f = [1, 0, 0, 0], P ~ [0.96, ...]: loss ~ 3.86.
    logits = torch.tensor([[4.0, 0.0, 0.0, 0.0]] * 8)
    got = lb_loss(logits, 1)
    expected = oracle.load_balancing_loss(logits, 1)
    assert abs(got - expected) < 1e-5, (
        f"collapsed routing onto expert 0 gives {expected:.4f} (balanced gives 1), got {got:.4f}"
    )


def test_load_balancing_loss_matches_the_oracle_and_reference_moe() -> None:
    logits = oracle.random_x(30, 6, seed=40) * 2
    for top_k in (1, 2, 3):
        got = lb_loss(logits, top_k)
        expected = oracle.load_balancing_loss(logits, top_k)
        ref = float(reference.moe.load_balancing_loss(logits, top_k))
        assert abs(expected - ref) < 1e-5  # the two oracles agree
        assert abs(got - expected) < 1e-5, (
            f"top_k={top_k}: E * sum_e f_e * P_e = {expected:.6f}, got {got:.6f}"
        )


def test_load_balancing_loss_in_aux_counts_routing_before_capacity_drops() -> None:
    state = oracle.random_state(4, 8, 10, seed=41)
    x = oracle.random_x(16, 8, seed=41)
    _, aux = oracle.make(state, 2, 0.5).forward(x)
    assert int(aux["dropped"]) > 0, "this batch overflows capacity 4; some must be dropped"
    expected = oracle.load_balancing_loss(aux["router_logits"].double(), 2)
    got = float(aux["load_balancing_loss"])
    assert abs(got - expected) < 1e-5, (
        f"aux load_balancing_loss counts every routing decision, dropped or not: "
        f"{expected:.6f}, got {got:.6f}"
    )


def test_z_loss_is_the_mean_squared_logsumexp() -> None:
    logits = oracle.random_x(20, 5, seed=42) * 3
    got = float(sol.router_z_loss(logits))
    expected = oracle.z_loss(logits)
    assert abs(got - expected) < 1e-4 * max(1.0, expected), (
        f"mean_t logsumexp(logits_t)^2 = {expected:.5f}, got {got:.5f}"
    )


def test_z_loss_stays_finite_for_large_router_logits() -> None:
    # logsumexp([100, 98, 0]) = 100.127: z-loss 10025.4, although exp(100) overflows float32.
    logits = torch.tensor([[100.0, 98.0, 0.0], [-5.0, 95.0, 90.0]])
    got = float(sol.router_z_loss(logits))
    expected = oracle.z_loss(logits)
    assert math.isfinite(got), f"z-loss of finite logits must be finite ({expected:.1f}), got {got}"
    assert abs(got - expected) < 1e-4 * expected, f"z-loss {expected:.2f}, got {got:.2f}"


def test_aux_losses_of_forward_are_float32_scalars_matching_the_oracle() -> None:
    state = oracle.random_state(5, 8, 10, seed=43)
    x = oracle.random_x(3, 4, 8, seed=43).to(torch.bfloat16)
    _, aux = oracle.make(state, 2, dtype=torch.bfloat16).forward(x)
    logits = aux["router_logits"].double()
    for name, expected in (
        ("load_balancing_loss", oracle.load_balancing_loss(logits, 2)),
        ("z_loss", oracle.z_loss(logits)),
    ):
        value = aux[name]
        assert value.dtype == torch.float32 and value.dim() == 0, (
            f"aux[{name!r}] must be a float32 scalar, got {value.dtype} of shape "
            f"{tuple(value.shape)}"
        )
        assert abs(float(value) - expected) < 1e-4 * max(1.0, expected), (
            f"aux[{name!r}] from bfloat16 logits: {expected:.6f}, got {float(value):.6f}"
        )
