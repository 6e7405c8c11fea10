"""Expert capacity ceil(cf * T * k / E), first come first served in token order."""

from __future__ import annotations

import oracle
import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reference.moe

RTOL, ATOL = 1e-4, 1e-5


def expect_rows(
    state: oracle.State, x: torch.Tensor, top_k: int, cf: float, rows: list[list[int]]
) -> dict[str, torch.Tensor]:
    """Run with capacity; token t must get exactly the experts rows[t], at their weights."""
    y, aux = oracle.make(state, top_k, cf).forward(x)
    logits = x.double() @ state["router_weight"].double().T
    for t, keep in enumerate(rows):
        weights = dict(oracle.route_token(logits[t], top_k))
        acc = torch.zeros(x.shape[1], dtype=torch.float64)
        for e in keep:
            acc = acc + weights[e] * oracle.expert(state, e, x[t])
        msg = oracle.close(y[t], acc, RTOL, ATOL)
        assert not msg, f"capacity_factor={cf}: token {t} must keep experts {keep} only: {msg}"
    return aux


def test_expert_capacity_counts_every_slot_of_every_token() -> None:
    cases = [((10, 2, 4, 1.0), 5), ((10, 2, 4, 1.25), 7), ((7, 1, 3, 1.0), 3), ((8, 2, 8, 0.5), 1)]
    for args, expected in cases:
        got = sol.expert_capacity(*args)
        assert got == expected, (
            f"expert_capacity(T={args[0]}, top_k={args[1]}, E={args[2]}, cf={args[3]}) is "
            f"ceil(cf * T * k / E) = {expected}, got {got}"
        )


def test_capacity_worked_example_keeps_the_first_three_tokens_of_each_full_expert() -> None:
    # T=4, E=3, k=2, cf=1.0: capacity ceil(8 / 3) = 3. Every token wants experts 0 and 1:
    # tokens 0-2 keep both, token 3 loses both and outputs zeros.
    state, x = oracle.routed([[3.0, 2.0, 0.0]] * 4)
    aux = expect_rows(state, x, 2, 1.0, [[0, 1], [0, 1], [0, 1], []])
    assert aux["expert_load"].tolist() == [3, 3, 0], (
        f"expert_load must be [3, 3, 0] with capacity 3, got {aux['expert_load'].tolist()}"
    )
    assert int(aux["dropped"]) == 2, f"2 assignments are dropped, got {int(aux['dropped'])}"


def test_capacity_an_early_tokens_second_choice_beats_a_later_tokens_first() -> None:
    # T=3, E=3, k=2, cf=0.5: capacity ceil(0.5 * 6 / 3) = 1.
    # token 0 -> experts 2, 0; token 1 -> 0, 1; token 2 -> 2, 1.
    # Expert 0 keeps token 0 (its second choice) and drops token 1's first choice;
    # expert 1 keeps token 1, drops token 2; expert 2 keeps token 0, drops token 2.
    table = [[2.0, 1.0, 3.0], [3.0, 2.0, 0.0], [0.0, 2.0, 3.0]]
    state, x = oracle.routed(table)
    aux = expect_rows(state, x, 2, 0.5, [[2, 0], [1], []])
    assert aux["expert_load"].tolist() == [1, 1, 1], (
        f"expert_load must be [1, 1, 1], got {aux['expert_load'].tolist()}"
    )
    assert int(aux["dropped"]) == 3, f"3 assignments are dropped, got {int(aux['dropped'])}"


def test_capacity_of_a_balanced_batch_drops_nothing() -> None:
    # T=8, E=4, k=2, cf=1.0: capacity 4, and every expert gets exactly 4 assignments.
    table = [[3.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 2.0], [2.0, 0.0, 0.0, 3.0]] * 2
    table += [[0.0, 3.0, 2.0, 0.0], [0.0, 2.0, 3.0, 0.0]]
    state, x = oracle.routed(table)
    y, aux = oracle.make(state, 2, 1.0).forward(x)
    assert aux["expert_load"].tolist() == [4, 4, 4, 4], (
        f"each expert's 4 assignments fit its capacity of 4; expert_load "
        f"{aux['expert_load'].tolist()}"
    )
    assert int(aux["dropped"]) == 0, f"nothing fits to drop, got {int(aux['dropped'])} dropped"
    msg = oracle.close(y, oracle.forward(state, x, 2), RTOL, ATOL)
    assert not msg, f"a balanced batch within capacity must equal the uncapped output: {msg}"


def test_capacity_exactly_full_keeps_everyone_and_one_more_drops_the_last() -> None:
    # k=1, E=2, cf=1.0. T=4: capacity 2, tokens 0, 1 on expert 0 and 2, 3 on expert 1.
    state, x = oracle.routed([[3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, 3.0]])
    aux = expect_rows(state, x, 1, 1.0, [[0], [0], [1], [1]])
    assert int(aux["dropped"]) == 0, f"load equals capacity: nothing dropped, got {aux['dropped']}"
    # T=4 again, but three tokens want expert 0: the third of them (token 3) is dropped.
    state, x = oracle.routed([[3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [3.0, 0.0]])
    aux = expect_rows(state, x, 1, 1.0, [[0], [0], [1], []])
    assert aux["expert_load"].tolist() == [2, 1], f"expert_load {aux['expert_load'].tolist()}"


def test_capacity_does_not_renormalise_the_surviving_weight() -> None:
    # T=3, E=3, k=2, cf=0.5: capacity 1. A token that loses one of its two experts keeps
    # the other at its original weight (0.88 for token 2 here, 0.27 below), not at 1.0.
    state, x = oracle.routed([[3.0, 2.0, 0.0], [3.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    expect_rows(state, x, 2, 0.5, [[0, 1], [], [2]])
    state, x = oracle.routed([[3.0, 0.0, 2.0], [3.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    expect_rows(state, x, 2, 0.5, [[0, 2], [1], []])


def test_sort_by_expert_worked_example() -> None:
    experts = torch.tensor([[2, 0], [0, 1], [2, 1]])
    order, counts = sol.sort_by_expert(experts, 3)
    assert order.tolist() == [1, 2, 3, 5, 0, 4], (
        f"assignments a = t*k + s grouped by expert, token order within: "
        f"expected [1, 2, 3, 5, 0, 4], got {order.tolist()}"
    )
    assert counts.tolist() == [2, 2, 2], f"counts [2, 2, 2], got {counts.tolist()}"
    order, counts = sol.sort_by_expert(experts, 3, 1)
    assert order.tolist() == [1, 3, 0], (
        f"capacity 1 keeps each expert's first assignment: [1, 3, 0], got {order.tolist()}"
    )
    assert counts.tolist() == [1, 1, 1], f"counts [1, 1, 1], got {counts.tolist()}"


def test_sort_by_expert_counts_zero_for_idle_experts() -> None:
    order, counts = sol.sort_by_expert(torch.tensor([[3, 1], [1, 3], [3, 1]]), 5, 2)
    assert counts.tolist() == [0, 2, 0, 2, 0], (
        f"experts 0, 2, 4 get nothing and 1, 3 keep 2 of 3: counts {counts.tolist()}"
    )
    assert order.tolist() == [1, 2, 0, 3], f"expected order [1, 2, 0, 3], got {order.tolist()}"


@settings(max_examples=15)
@given(
    seed=st.integers(0, 10_000),
    n_tokens=st.integers(1, 24),
    n_experts=st.integers(2, 6),
    data=st.data(),
)
def test_capacity_matches_the_first_come_first_served_oracle(
    seed: int, n_tokens: int, n_experts: int, data: st.DataObject
) -> None:
    top_k = data.draw(st.integers(1, min(3, n_experts)), label="top_k")
    cf = data.draw(st.sampled_from([0.25, 0.5, 1.0, 1.5]), label="capacity_factor")
    state = oracle.random_state(n_experts, 8, 10, seed=seed)
    x = oracle.random_x(n_tokens, 8, seed=seed + 1)
    y, aux = oracle.make(state, top_k, cf).forward(x)
    logits = aux["router_logits"].double()
    msg = oracle.close(y, oracle.forward(state, x, top_k, cf, logits=logits), RTOL, ATOL)
    assert not msg, f"T={n_tokens} E={n_experts} top_k={top_k} cf={cf}: {msg}"
    load = oracle.expert_load(logits, top_k, cf)
    assert aux["expert_load"].tolist() == load, (
        f"T={n_tokens} E={n_experts} top_k={top_k} cf={cf}: expert_load "
        f"{aux['expert_load'].tolist()}, expected {load}"
    )
    assert int(aux["dropped"]) == n_tokens * top_k - sum(load)


def test_capacity_matches_reference_moe() -> None:
    state = oracle.random_state(4, 10, 12, seed=30)
    x = oracle.random_x(20, 10, seed=30)
    y, _ = oracle.make(state, 2, 0.75).forward(x)
    ref, _ = reference.moe.moe_forward(
        x, state["router_weight"], state["w1"], state["w2"], state["w3"], 2, 0.75
    )
    msg = oracle.close(y, ref, RTOL, ATOL)
    assert not msg, f"against reference.moe.moe_forward, top_k=2, capacity_factor=0.75: {msg}"
