"""SparseMoE.forward without capacity: against a per-token oracle, and its invariances."""

from __future__ import annotations

import oracle
import torch
import torch.nn.functional as F

import reference.moe

RTOL, ATOL = 1e-4, 1e-5  # float32 against the float64 oracle


def check(state: oracle.State, x: torch.Tensor, top_k: int, what: str) -> None:
    y, _ = oracle.make(state, top_k).forward(x)
    msg = oracle.close(y, oracle.forward(state, x, top_k), RTOL, ATOL)
    assert not msg, f"{what}: {msg}"


def test_forward_matches_the_per_token_oracle() -> None:
    state = oracle.random_state(6, 16, 24, seed=10)
    check(state, oracle.random_x(40, 16, seed=10), 2, "T=40 H=16 I=24 E=6 top_k=2")


def test_forward_matches_reference_moe() -> None:
    state = oracle.random_state(5, 12, 20, seed=11)
    x = oracle.random_x(24, 12, seed=11)
    y, _ = oracle.make(state, 2).forward(x)
    ref, _ = reference.moe.moe_forward(
        x, state["router_weight"], state["w1"], state["w2"], state["w3"], 2
    )
    msg = oracle.close(y, ref, RTOL, ATOL)
    assert not msg, f"against reference.moe.moe_forward, top_k=2: {msg}"


def test_forward_with_top_1_uses_the_argmax_expert_at_full_weight() -> None:
    state = oracle.random_state(5, 8, 12, seed=12)
    x = oracle.random_x(20, 8, seed=12)
    y, _ = oracle.make(state, 1).forward(x)
    best = (x @ state["router_weight"].T).argmax(dim=-1).tolist()
    expected = torch.stack([oracle.expert(state, e, x[t]) for t, e in enumerate(best)])
    msg = oracle.close(y, expected, RTOL, ATOL)
    assert not msg, f"top_k=1: each token's output is its argmax expert, weight 1: {msg}"


def test_forward_with_top_k_equal_to_the_number_of_experts_mixes_them_all() -> None:
    state = oracle.random_state(4, 8, 12, seed=13)
    check(state, oracle.random_x(15, 8, seed=13), 4, "top_k = num_experts = 4")


def test_forward_sums_the_outputs_of_both_experts_of_every_token() -> None:
    # Every token picks experts 0 and 3: each of them gets all 7 tokens, in one slice.
    state, x = oracle.routed([[4.0, 0.0, 0.0, 3.0, 0.0]] * 7)
    check(state, x, 2, "all 7 tokens on experts 0 and 3 (weights 0.73 and 0.27)")


def test_forward_of_a_single_token_matches_the_oracle() -> None:
    state = oracle.random_state(8, 16, 24, seed=14)
    for seed in range(4):
        x = oracle.random_x(1, 16, seed=100 + seed)
        check(state, x, 2, f"a single token (decode), E=8, seed {seed}")


def test_forward_when_the_low_numbered_experts_get_no_tokens() -> None:
    # Experts 0, 1 and 3 receive nothing; tokens go to experts 2, 4 and 5.
    table = [[0.0, 0.0, 5.0, 0.0, 3.0, 1.0], [0.0, 0.0, 1.0, 0.0, 4.0, 5.0]] * 3
    state, x = oracle.routed(table)
    check(state, x, 2, "experts 0, 1, 3 idle")


def test_forward_when_only_the_last_expert_gets_tokens() -> None:
    state, x = oracle.routed([[0.0, 0.0, 0.0, 6.0]] * 5)
    check(state, x, 1, "every token on expert 3, experts 0-2 idle")


def test_forward_of_each_token_alone_equals_its_row_in_the_batch() -> None:
    state = oracle.random_state(8, 12, 16, seed=15)
    x = oracle.random_x(10, 12, seed=15)
    moe = oracle.make(state, 2)
    y, _ = moe.forward(x)
    for t in range(10):
        alone, _ = moe.forward(x[t : t + 1])
        msg = oracle.close(alone[0], y[t], 1e-5, 1e-6)
        assert not msg, f"token {t} alone vs in a batch of 10: {msg}"


def test_forward_is_equivariant_to_a_permutation_of_the_tokens() -> None:
    state = oracle.random_state(5, 8, 12, seed=16)
    x = oracle.random_x(30, 8, seed=16)
    moe = oracle.make(state, 2)
    y, _ = moe.forward(x)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(0))
    y_perm, _ = moe.forward(x[perm])
    msg = oracle.close(y_perm, y[perm], 1e-5, 1e-6)
    assert not msg, f"shuffling the tokens must shuffle the outputs the same way: {msg}"


def test_forward_of_a_batch_of_sequences_flattens_the_leading_dims() -> None:
    state = oracle.random_state(4, 8, 12, seed=17)
    x = oracle.random_x(3, 5, 8, seed=17)
    y, aux = oracle.make(state, 2).forward(x)
    assert tuple(y.shape) == (3, 5, 8), f"y must have x's shape (3, 5, 8), got {tuple(y.shape)}"
    assert tuple(aux["router_logits"].shape) == (15, 4), (
        f"router_logits must be [T, E] = (15, 4), got {tuple(aux['router_logits'].shape)}"
    )
    msg = oracle.close(y.reshape(15, 8), oracle.forward(state, x.reshape(15, 8), 2), RTOL, ATOL)
    assert not msg, f"[3, 5, H] input: {msg}"


def test_forward_applies_silu_to_the_w1_projection_only() -> None:
    # H = I = 1, x = 1, w1 = 1, w3 = 2, w2 = 1: expert(x) = silu(1) * 2 = 1.4621...
    one = torch.ones(1, 1, 1)
    state = {"router_weight": torch.zeros(1, 1), "w1": one, "w2": one, "w3": 2 * one}
    y, _ = oracle.make(state, 1).forward(torch.ones(1, 1))
    expected = 2 * float(F.silu(torch.tensor(1.0)))
    assert abs(float(y) - expected) < 1e-6, (
        f"w2 (silu(w1 x) * w3 x) with w1=1, w3=2, x=1 is {expected:.4f}, got {float(y):.4f}"
    )


def test_forward_returns_the_router_logits_in_aux() -> None:
    state = oracle.random_state(5, 8, 10, seed=18)
    x = oracle.random_x(12, 8, seed=18)
    _, aux = oracle.make(state, 2).forward(x)
    logits = aux["router_logits"]
    assert logits.dtype == torch.float32, f"router_logits keep x's dtype, got {logits.dtype}"
    msg = oracle.close(logits, x.double() @ state["router_weight"].double().T, 1e-5, 1e-5)
    assert not msg, f"router_logits must be x @ router_weight.T: {msg}"
    assert aux["expert_load"].tolist() == oracle.expert_load(logits.double(), 2), (
        f"expert_load {aux['expert_load'].tolist()}, "
        f"expected {oracle.expert_load(logits.double(), 2)} (no capacity)"
    )
    assert int(aux["dropped"]) == 0, f"nothing is dropped without capacity, got {aux['dropped']}"


def test_forward_in_bfloat16_matches_the_oracle_within_bfloat16_rounding() -> None:
    state = oracle.random_state(6, 16, 32, seed=19)
    x = oracle.random_x(48, 16, seed=19).to(torch.bfloat16)
    moe = oracle.make(state, 2, dtype=torch.bfloat16)
    y, aux = moe.forward(x)
    assert y.dtype == torch.bfloat16, f"y must have x's dtype bfloat16, got {y.dtype}"
    assert aux["router_logits"].dtype == torch.bfloat16
    bf16 = {n: w.to(torch.bfloat16) for n, w in state.items()}
    # Route the oracle by the candidate's own logits: a bfloat16 near-tie may flip.
    expected = oracle.forward(bf16, x, 2, logits=aux["router_logits"].double())
    msg = oracle.close(y, expected, 2e-2, 2e-2)
    assert not msg, f"bfloat16 output against the float64 oracle: {msg}"


def test_forward_does_not_modify_its_input() -> None:
    state = oracle.random_state(4, 8, 12, seed=20)
    x = oracle.random_x(16, 8, seed=20)
    before = x.clone()
    oracle.make(state, 2).forward(x)
    assert torch.equal(x, before), "forward wrote into x"
