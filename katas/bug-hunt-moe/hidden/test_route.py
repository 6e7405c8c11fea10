"""route: softmax over all experts in float32, top-k, renormalised weights."""

from __future__ import annotations

import math

import oracle
import solution as sol
import torch


def test_route_worked_example_renormalises_the_two_best_probabilities() -> None:
    weights, experts, probs = sol.route(torch.tensor([[1.0, 3.0, 0.0, 2.0]]), 2)
    assert experts.tolist() == [[1, 3]], f"the two best experts are 1 then 3, got {experts}"
    a = math.exp(3) / (math.exp(3) + math.exp(2))
    assert torch.allclose(weights, torch.tensor([[a, 1 - a]]), atol=1e-6), (
        f"weights must be [e^3, e^2] / (e^3 + e^2) = [{a:.4f}, {1 - a:.4f}], got {weights}"
    )
    full = torch.softmax(torch.tensor([1.0, 3.0, 0.0, 2.0], dtype=torch.float64), 0)
    msg = oracle.close(probs[0], full, 1e-6, 1e-7)
    assert not msg, f"probs must be the softmax over all 4 experts: {msg}"


def test_route_weights_sum_to_one_for_every_token() -> None:
    logits = oracle.random_x(50, 8, seed=1) * 3
    for k in (1, 2, 3, 8):
        weights, _, _ = sol.route(logits, k)
        sums = weights.double().sum(dim=-1)
        worst = float((sums - 1).abs().max())
        assert worst < 1e-5, (
            f"top_k={k}: each token's k weights must sum to 1 (Mixtral renormalises); "
            f"a row sums to {float(sums[(sums - 1).abs().argmax()]):.4f}"
        )


def test_route_matches_the_per_token_oracle() -> None:
    logits = oracle.random_x(40, 6, seed=2) * 2
    weights, experts, _ = sol.route(logits, 2)
    for t in range(40):
        expected = oracle.route_token(logits[t], 2)
        got = list(zip(experts[t].tolist(), weights[t].tolist(), strict=True))
        assert [e for e, _ in got] == [e for e, _ in expected], (
            f"token {t}: experts {[e for e, _ in got]}, expected {[e for e, _ in expected]}"
        )
        for (_, w), (_, w_exp) in zip(got, expected, strict=True):
            assert abs(w - w_exp) < 1e-5, f"token {t}: weights {got}, expected {expected}"


def test_route_weights_equal_the_softmax_of_the_selected_logits() -> None:
    # Renormalising the top-k of softmax(all logits) is softmax(top-k logits).
    logits = oracle.random_x(20, 8, seed=3) * 2
    weights, experts, _ = sol.route(logits, 3)
    expected = torch.softmax(logits.double().gather(1, experts), dim=-1)
    msg = oracle.close(weights, expected, 1e-5, 1e-6)
    assert not msg, f"weights must be softmax over each token's 3 selected logits: {msg}"


def test_route_of_a_token_does_not_depend_on_the_other_tokens() -> None:
    logits = oracle.random_x(12, 6, seed=4) * 2
    weights, experts, probs = sol.route(logits, 2)
    for t in (0, 5, 11):
        w1, e1, p1 = sol.route(logits[t : t + 1], 2)
        assert e1.tolist() == experts[t : t + 1].tolist(), (
            f"token {t} alone picks experts {e1.tolist()}, in the batch {experts[t].tolist()}"
        )
        msg = oracle.close(w1, weights[t : t + 1], 1e-6, 1e-7)
        assert not msg, f"token {t}: weights alone vs in a batch of 12: {msg}"
        msg = oracle.close(p1, probs[t : t + 1], 1e-6, 1e-7)
        assert not msg, f"token {t}: probs alone vs in a batch of 12: {msg}"


def test_route_probs_are_a_softmax_over_the_experts_of_each_token() -> None:
    logits = oracle.random_x(10, 5, seed=5)
    _, _, probs = sol.route(logits, 2)
    assert tuple(probs.shape) == (10, 5), f"probs must be [T, E] = (10, 5), got {probs.shape}"
    msg = oracle.close(probs, torch.softmax(logits.double(), dim=-1), 1e-6, 1e-7)
    assert not msg, f"probs[t] must be softmax(logits[t]) over the 5 experts: {msg}"


def test_route_of_bfloat16_logits_equals_route_of_their_float32_upcast() -> None:
    # The softmax runs in float32 whatever the input dtype, so upcasting first is a no-op.
    logits = (oracle.random_x(32, 8, seed=6) * 2).to(torch.bfloat16)
    w_bf, e_bf, p_bf = sol.route(logits, 2)
    w_32, e_32, p_32 = sol.route(logits.float(), 2)
    assert w_bf.dtype == torch.float32 and p_bf.dtype == torch.float32, (
        f"weights and probs must be float32 for bfloat16 logits, got {w_bf.dtype}, {p_bf.dtype}"
    )
    assert torch.equal(e_bf, e_32), "bfloat16 logits must pick the experts their upcast picks"
    msg = oracle.close(w_bf, w_32, 0.0, 1e-7)
    assert not msg, f"bfloat16 logits must give the float32 weights of their upcast: {msg}"
    msg = oracle.close(p_bf, p_32, 0.0, 1e-7)
    assert not msg, f"bfloat16 logits must give the float32 probs of their upcast: {msg}"


def test_route_weights_two_experts_one_bfloat16_step_apart_unequally() -> None:
    # 0.5 and 0.50390625 are adjacent bfloat16 values: their float32 softmax weights
    # differ by 0.2%, less than one bfloat16 step near 0.5.
    logits = torch.tensor([[0.5, 0.50390625, -3.0, -3.0]], dtype=torch.bfloat16)
    weights, experts, _ = sol.route(logits, 2)
    assert experts.tolist() == [[1, 0]], f"expert 1 then 0, got {experts.tolist()}"
    expected = torch.softmax(torch.tensor([0.50390625, 0.5], dtype=torch.float64), 0)
    msg = oracle.close(weights[0], expected, 0.0, 1e-6)
    assert not msg, (
        f"weights must be the float32 softmax of the two logits, "
        f"[{float(expected[0]):.5f}, {float(expected[1]):.5f}]: {msg}"
    )


def test_route_returns_float32_weights_and_int64_experts_best_first() -> None:
    logits = oracle.random_x(16, 6, seed=7)
    weights, experts, probs = sol.route(logits, 3)
    assert weights.dtype == torch.float32, f"weights must be float32, got {weights.dtype}"
    assert experts.dtype == torch.int64, f"experts must be int64, got {experts.dtype}"
    assert tuple(weights.shape) == tuple(experts.shape) == (16, 3)
    assert bool((weights[:, :-1] >= weights[:, 1:]).all()), "weights must be largest first"
    chosen = probs.gather(1, experts)
    assert bool((chosen[:, :-1] >= chosen[:, 1:]).all()), "experts must be best first"
