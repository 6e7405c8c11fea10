"""moe_forward with capacity_factor: ceil(cf * T * k / E) per expert, first come first served."""

from __future__ import annotations

import math

import oracle
import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import Layer, random_layer, routed_layer

RTOL, ATOL = 1e-4, 1e-5


def run(layer: Layer, k: int, capacity_factor: float | None) -> torch.Tensor:
    out, _ = sol.moe_forward(
        layer.x, layer.router, layer.w1, layer.w2, layer.w3, k, capacity_factor
    )
    return out


def mix(layer: Layer, t: int, parts: list[tuple[int, float]]) -> torch.Tensor:
    """sum of weight * expert_e(x_t) over the given (expert, weight) pairs."""
    acc = torch.zeros(layer.x.shape[1], dtype=torch.float64)
    for e, w in parts:
        acc = acc + w * oracle.expert(layer, e, layer.x[t])
    return acc


def expect(layer: Layer, k: int, cf: float, rows: list[list[tuple[int, float]]], what: str) -> None:
    out = run(layer, k, cf)
    expected = torch.stack([mix(layer, t, parts) for t, parts in enumerate(rows)])
    for t in range(len(rows)):
        msg = oracle.close(out[t], expected[t], RTOL, ATOL)
        kept = [e for e, _ in rows[t]]
        assert not msg, f"{what}: token {t} should keep experts {kept}: {msg}"


def test_capacity_keeps_the_first_tokens_of_an_overfull_expert() -> None:
    # T=4, E=2, k=1, cf=1.0: capacity ceil(1.0 * 4 * 1 / 2) = 2. All four tokens want
    # expert 0: tokens 0 and 1 get it, tokens 2 and 3 are dropped and output zeros.
    layer = routed_layer([[3.0, 0.0]] * 4)
    expect(layer, 1, 1.0, [[(0, 1.0)], [(0, 1.0)], [], []], "capacity 2, all tokens on expert 0")


def test_capacity_rounds_up() -> None:
    # T=5, E=2, k=1, cf=1.0: capacity ceil(2.5) = 3, so tokens 0, 1, 2 keep expert 0.
    layer = routed_layer([[3.0, 0.0]] * 5)
    expect(layer, 1, 1.0, [[(0, 1.0)]] * 3 + [[], []], "capacity ceil(2.5) = 3")


def test_capacity_exactly_at_the_load_drops_nothing() -> None:
    # Two tokens per expert and capacity ceil(1.0 * 4 * 1 / 2) = 2: everyone is served.
    layer = routed_layer([[3.0, 0.0], [0.0, 3.0], [0.0, 3.0], [3.0, 0.0]])
    expect(
        layer, 1, 1.0, [[(0, 1.0)], [(1, 1.0)], [(1, 1.0)], [(0, 1.0)]], "load equal to capacity"
    )


def test_capacity_worked_example_of_the_prompt() -> None:
    # T=3, E=3, k=2, cf=0.5: capacity ceil(0.5 * 3 * 2 / 3) = 1.
    # Routing (best first): token 0 -> [2, 0], token 1 -> [0, 1], token 2 -> [2, 1].
    # Expert 0 keeps token 0, expert 1 keeps token 1, expert 2 keeps token 0.
    logits = [[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]
    layer = routed_layer(logits)
    hi, lo = math.e**2 / (math.e**2 + math.e), math.e / (math.e**2 + math.e)
    rows = [[(2, hi), (0, lo)], [(1, lo)], []]
    expect(layer, 2, 0.5, rows, "prompt's worked example")


def test_capacity_serves_an_early_tokens_second_choice_before_a_later_tokens_first() -> None:
    # T=2, E=2, k=2, cf=0.5: capacity 1. Token 0 -> [1, 0], token 1 -> [0, 1].
    # Token order decides, not the slot: token 0 takes both experts, token 1 gets none.
    layer = routed_layer([[0.0, 1.0], [1.0, 0.0]])
    hi, lo = math.e / (math.e + 1), 1 / (math.e + 1)
    expect(layer, 2, 0.5, [[(1, hi), (0, lo)], []], "token order beats slot order")


def test_capacity_does_not_renormalise_the_surviving_weights() -> None:
    # T=2, E=3, k=2, cf=0.75: capacity ceil(0.75 * 2 * 2 / 3) = 1.
    # Token 0 -> [0, 1], token 1 -> [0, 2]: token 1 loses expert 0 and keeps expert 2
    # at its original weight e^1 / (e^2 + e^1), not 1.
    layer = routed_layer([[2.0, 1.0, 0.0], [2.0, 0.0, 1.0]])
    hi, lo = math.e**2 / (math.e**2 + math.e), math.e / (math.e**2 + math.e)
    expect(layer, 2, 0.75, [[(0, hi), (1, lo)], [(2, lo)]], "surviving weight unchanged")


def test_capacity_large_enough_changes_nothing() -> None:
    layer = random_layer(24, 8, 12, 4, seed=20)
    free, _ = sol.moe_forward(layer.x, layer.router, layer.w1, layer.w2, layer.w3, 2)
    capped = run(layer, 2, 4.0)  # capacity = T * k: no expert can overflow
    msg = oracle.close(capped, free, 1e-6, 1e-6)
    assert not msg, f"capacity_factor = E never drops: {msg}"


def test_capacity_counts_each_expert_separately() -> None:
    # T=6, E=3, k=1, cf=1.0: capacity 2 per expert. Tokens 0, 1, 4 want expert 0 and
    # tokens 2, 3, 5 want expert 1 (expert 2 idle): each drops its own third token.
    to0, to1 = [3.0, 0.0, 0.0], [0.0, 3.0, 0.0]
    layer = routed_layer([to0, to0, to1, to1, to0, to1])
    rows = [[(0, 1.0)], [(0, 1.0)], [(1, 1.0)], [(1, 1.0)], [], []]
    expect(layer, 1, 1.0, rows, "capacity 2 per expert")


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    n_tokens=st.integers(1, 24),
    n_experts=st.integers(1, 6),
    data=st.data(),
    capacity_factor=st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]),
    seed=st.integers(0, 2**16),
)
def test_capacity_matches_the_oracle(
    n_tokens: int, n_experts: int, data: st.DataObject, capacity_factor: float, seed: int
) -> None:
    k = data.draw(st.integers(1, n_experts), label="k")
    layer = random_layer(n_tokens, 8, 10, n_experts, seed)
    out = run(layer, k, capacity_factor)
    expected = oracle.moe_forward(layer, k, capacity_factor)
    msg = oracle.close(out, expected, RTOL, ATOL)
    cap = oracle.capacity(capacity_factor, n_tokens, k, n_experts)
    assert not msg, f"T={n_tokens} E={n_experts} k={k} cf={capacity_factor} (capacity {cap}): {msg}"
