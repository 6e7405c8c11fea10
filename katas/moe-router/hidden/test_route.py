"""route: float32 softmax over every expert, top-k, renormalise; ties; dtypes."""

from __future__ import annotations

import math

import oracle
import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st


def test_route_renormalises_the_top_k_softmax_probabilities() -> None:
    logits = torch.tensor([[1.0, 3.0, 0.0, 2.0]])
    weights, experts = sol.route(logits, 2)
    assert experts.tolist() == [[1, 3]], f"top-2 of {logits.tolist()} is [1, 3], got {experts}"
    # softmax then renormalise over the two kept: e^3 / (e^3 + e^2) and e^2 / (e^3 + e^2)
    expected = [
        math.exp(3) / (math.exp(3) + math.exp(2)),
        math.exp(2) / (math.exp(3) + math.exp(2)),
    ]
    assert torch.allclose(
        weights.double(), torch.tensor([expected], dtype=torch.float64), atol=1e-6
    ), f"weights must be the kept probabilities divided by their sum {expected}, got {weights}"


def test_route_weights_sum_to_one_for_every_token() -> None:
    logits = torch.randn(50, 8, generator=torch.Generator().manual_seed(1))
    weights, _ = sol.route(logits, 3)
    sums = weights.double().sum(dim=-1)
    assert torch.allclose(sums, torch.ones(50, dtype=torch.float64), atol=1e-6), (
        f"the k weights of a token must sum to 1 (renormalised); sums range "
        f"{float(sums.min()):.6f}..{float(sums.max()):.6f}"
    )


def test_route_lists_experts_best_first() -> None:
    logits = torch.tensor([[0.0, 5.0, 1.0, 4.0, 2.0, 3.0]])
    weights, experts = sol.route(logits, 4)
    assert experts.tolist() == [[1, 3, 5, 4]], f"slot 0 is the most probable expert; got {experts}"
    assert bool((weights[0, :-1] >= weights[0, 1:]).all()), f"weights must be descending: {weights}"


def test_route_returns_float32_weights_and_int64_experts_of_shape_t_by_k() -> None:
    logits = torch.randn(7, 5, generator=torch.Generator().manual_seed(2)).to(torch.bfloat16)
    weights, experts = sol.route(logits, 2)
    assert weights.dtype == torch.float32, (
        f"weights must be float32 whatever the input, got {weights.dtype}"
    )
    assert experts.dtype == torch.int64, f"experts must be int64, got {experts.dtype}"
    assert tuple(weights.shape) == (7, 2) and tuple(experts.shape) == (7, 2)


def test_route_ranks_bfloat16_logits_with_a_float32_softmax() -> None:
    # bf16 logits, but the softmax, top-k and renormalisation must run in float32:
    # a bf16 softmax rounds these probabilities to ~3 digits.
    # Each row a shuffle of distinct bf16 values; the top two differ by 1/128.
    values = torch.tensor([2.0, 1.9921875, 1.75, 0.5, 0.0, -0.5, -1.0, -3.0])
    g = torch.Generator().manual_seed(3)
    logits = torch.stack([values[torch.randperm(8, generator=g)] for _ in range(64)])
    logits = logits.to(torch.bfloat16)
    weights, experts = sol.route(logits, 2)
    exp_w, exp_e = oracle.route(logits.double(), 2)
    assert torch.equal(experts, exp_e), "experts differ from the float32 ranking of the same logits"
    err = float((weights.double() - exp_w).abs().max())
    assert err < 1e-6, (
        f"weights are off by {err:.2g} from a float32 softmax of the bf16 logits: cast the "
        "logits to float32 before the softmax"
    )


def test_route_is_stable_for_large_logits() -> None:
    logits = torch.tensor([[1000.0, 999.0, 0.0], [-1000.0, -1001.0, -1002.0]])
    weights, experts = sol.route(logits, 2)
    assert bool(torch.isfinite(weights).all()), f"large logits must not overflow: {weights}"
    a, b = 1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1))
    expected = torch.tensor([[a, b], [a, b]], dtype=torch.float64)
    assert experts.tolist() == [[0, 1], [0, 1]]
    assert torch.allclose(weights.double(), expected, atol=1e-6), (
        f"expected {expected}, got {weights}"
    )


def test_route_with_k_one_gives_the_argmax_weight_one() -> None:
    logits = torch.randn(20, 6, generator=torch.Generator().manual_seed(4))
    weights, experts = sol.route(logits, 1)
    assert torch.equal(experts[:, 0], logits.argmax(dim=-1)), "k=1 must pick the argmax"
    assert torch.allclose(weights, torch.ones(20, 1)), (
        f"k=1 renormalises to weight 1, got {weights}"
    )


def test_route_with_k_equal_to_experts_returns_the_full_sorted_softmax() -> None:
    logits = torch.randn(10, 4, generator=torch.Generator().manual_seed(5))
    weights, experts = sol.route(logits, 4)
    probs = torch.softmax(logits.double(), dim=-1)
    expected, order = probs.sort(dim=-1, descending=True)
    assert torch.equal(experts, order), "k=E lists every expert, most probable first"
    assert torch.allclose(weights.double(), expected, atol=1e-6), (
        "k=E weights are the softmax itself"
    )


def test_route_with_all_logits_tied_splits_weight_evenly_over_distinct_experts() -> None:
    logits = torch.zeros(5, 6)
    weights, experts = sol.route(logits, 3)
    assert torch.allclose(weights, torch.full((5, 3), 1 / 3)), (
        f"tied logits: weights 1/3, got {weights}"
    )
    for row in experts.tolist():
        assert len(set(row)) == 3 and all(0 <= e < 6 for e in row), (
            f"a token's k experts must be distinct valid ids, got {row}"
        )


def test_route_tie_at_the_boundary_keeps_the_clear_winner() -> None:
    # Expert 0 wins; experts 1 and 2 tie for the second slot: either is valid.
    logits = torch.tensor([[3.0, 1.0, 1.0, 0.0]])
    weights, experts = sol.route(logits, 2)
    first, second = experts[0].tolist()
    assert first == 0 and second in (1, 2), f"expected [0, 1 or 2], got {experts.tolist()}"
    w0 = math.exp(3) / (math.exp(3) + math.exp(1))
    expected = torch.tensor([w0, 1 - w0], dtype=torch.float64)
    assert torch.allclose(weights[0].double(), expected, atol=1e-6), (
        f"expected {expected}, got {weights}"
    )


def test_route_does_not_modify_the_logits() -> None:
    logits = torch.randn(6, 5, generator=torch.Generator().manual_seed(6))
    before = logits.clone()
    sol.route(logits, 2)
    assert torch.equal(logits, before), "route must not write into router_logits"


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    n_tokens=st.integers(1, 30),
    n_experts=st.integers(1, 10),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_route_matches_the_per_token_oracle(
    n_tokens: int, n_experts: int, data: st.DataObject, seed: int
) -> None:
    k = data.draw(st.integers(1, n_experts), label="k")
    logits = torch.randn(n_tokens, n_experts, generator=torch.Generator().manual_seed(seed)) * 3
    weights, experts = sol.route(logits, k)
    exp_w, exp_e = oracle.route(logits, k)
    assert torch.equal(experts, exp_e), f"T={n_tokens} E={n_experts} k={k}: experts differ"
    msg = oracle.close(weights, exp_w, rtol=1e-5, atol=1e-6)
    assert not msg, f"T={n_tokens} E={n_experts} k={k}: weights: {msg}"


def test_route_with_a_single_expert_gives_it_weight_one() -> None:
    weights, experts = sol.route(torch.tensor([[2.0], [-3.0]]), 1)
    assert experts.tolist() == [[0], [0]], f"E=1: every token goes to expert 0, got {experts}"
    assert weights.tolist() == [[1.0], [1.0]], f"E=1: weight 1, got {weights}"
