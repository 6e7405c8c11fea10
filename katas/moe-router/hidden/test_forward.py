"""moe_forward without capacity: against a per-token oracle, edge routings, dtypes, gradients."""

from __future__ import annotations

import oracle
import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import Layer, random_layer, routed_layer

from grader.judge.remote import vjp

RTOL, ATOL = 1e-4, 1e-5  # float32 against the float64 oracle


def run(
    layer: Layer, k: int, capacity_factor: float | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    out, logits = sol.moe_forward(
        layer.x, layer.router, layer.w1, layer.w2, layer.w3, k, capacity_factor
    )
    return out, logits


def check(layer: Layer, k: int, what: str) -> None:
    out, _ = run(layer, k)
    msg = oracle.close(out, oracle.moe_forward(layer, k), RTOL, ATOL)
    assert not msg, f"{what}: {msg}"


def test_forward_matches_the_per_token_oracle_in_float32() -> None:
    check(random_layer(40, 16, 24, 6, seed=10), 2, "T=40 H=16 I=24 E=6 k=2")


def test_forward_returns_the_router_logits_x_at_router_weight_transposed() -> None:
    layer = random_layer(12, 8, 10, 5, seed=11)
    _, logits = run(layer, 2)
    assert tuple(logits.shape) == (12, 5), (
        f"router_logits must be [T, E] = (12, 5), got {tuple(logits.shape)}"
    )
    assert logits.dtype == torch.float32
    msg = oracle.close(logits, layer.x.double() @ layer.router.double().T, 1e-5, 1e-5)
    assert not msg, f"router_logits must be x @ router_weight.T: {msg}"


def test_forward_output_has_shape_t_by_h_and_the_dtype_of_x() -> None:
    for dtype in (torch.float32, torch.bfloat16):
        layer = random_layer(9, 8, 12, 4, seed=12).to(dtype)
        out, logits = run(layer, 2)
        assert tuple(out.shape) == (9, 8), f"out must be [T, H] = (9, 8), got {tuple(out.shape)}"
        assert out.dtype == dtype, f"out must have x's dtype {dtype}, got {out.dtype}"
        assert logits.dtype == dtype, (
            f"router_logits must have x's dtype {dtype}, got {logits.dtype}"
        )


def test_forward_with_k1_uses_only_the_argmax_expert_at_full_weight() -> None:
    layer = random_layer(20, 8, 12, 5, seed=13)
    out, _ = run(layer, 1)
    best = (layer.x @ layer.router.T).argmax(dim=-1)
    expected = torch.stack([oracle.expert(layer, int(best[t]), layer.x[t]) for t in range(20)])
    msg = oracle.close(out, expected, RTOL, ATOL)
    assert not msg, f"k=1: each token's output is its argmax expert, weight 1: {msg}"


def test_forward_with_k_equal_to_experts_mixes_every_expert() -> None:
    check(random_layer(15, 8, 12, 4, seed=14), 4, "k=E=4")


def test_forward_sends_every_token_to_the_one_expert_they_all_prefer() -> None:
    layer = routed_layer([[0.0, 0.0, 5.0, 0.0]] * 6)
    out, _ = run(layer, 1)
    expected = torch.stack([oracle.expert(layer, 2, layer.x[t]) for t in range(6)])
    msg = oracle.close(out, expected, RTOL, ATOL)
    assert not msg, f"all tokens routed to expert 2 (experts 0, 1, 3 get none): {msg}"


def test_forward_with_every_token_on_the_same_two_experts_leaves_the_others_idle() -> None:
    check(routed_layer([[4.0, 0.0, 0.0, 3.0, 0.0]] * 7), 2, "all tokens on experts 0 and 3")


def test_forward_of_a_single_token() -> None:
    check(random_layer(1, 8, 12, 4, seed=15), 2, "T=1")


def test_forward_applies_silu_to_the_w1_projection_only() -> None:
    # H = I = 1: expert(x) = w2 * silu(w1 x) * (w3 x) = silu(1) * 2 = 1.4621...
    one = torch.ones(1, 1, 1)
    layer = Layer(x=torch.ones(1, 1), router=torch.zeros(1, 1), w1=one, w2=one, w3=2 * one)
    out, _ = run(layer, 1)
    expected = 2 * torch.nn.functional.silu(torch.tensor(1.0))
    assert torch.allclose(out, expected.reshape(1, 1), atol=1e-6), (
        f"w2(silu(w1 x) * w3 x) with w1=1, w3=2, x=1 is {float(expected):.4f}, got {float(out):.4f}"
    )


def test_forward_in_bfloat16_matches_the_oracle_within_bfloat16_rounding() -> None:
    layer = random_layer(48, 16, 32, 6, seed=16).to(torch.bfloat16)
    out, logits = run(layer, 2)
    expected_logits = layer.x.double() @ layer.router.double().T
    msg = oracle.close(logits, expected_logits, 1e-2, 2e-2)
    assert not msg, f"bf16 router_logits: {msg}"
    # Route the oracle by the candidate's own (checked) logits: a bf16 near-tie may flip.
    msg = oracle.close(out, oracle.moe_forward(layer, 2, logits=logits.double()), 2e-2, 2e-2)
    assert not msg, f"bf16 output against the float64 oracle: {msg}"


def test_forward_ties_between_identical_experts_give_the_same_output() -> None:
    # Experts 0 and 1 tie on every token and hold the same weights: either choice is right.
    layer = routed_layer([[1.0, 1.0, -2.0, -2.0]] * 5)
    for w in (layer.w1, layer.w2, layer.w3):
        w[1] = w[0]
    out, _ = run(layer, 1)
    expected = torch.stack([oracle.expert(layer, 0, layer.x[t]) for t in range(5)])
    msg = oracle.close(out, expected, RTOL, ATOL)
    assert not msg, f"tied experts 0/1 with equal weights, k=1: {msg}"


def test_forward_with_all_logits_tied_gives_each_of_k_identical_experts_weight_1_over_k() -> None:
    layer = routed_layer([[0.0] * 4] * 5)
    for w in (layer.w1, layer.w2, layer.w3):
        w[:] = w[0]
    out, _ = run(layer, 2)
    expected = torch.stack([oracle.expert(layer, 0, layer.x[t]) for t in range(5)])
    msg = oracle.close(out, expected, RTOL, ATOL)
    assert not msg, f"all logits tied, all experts equal: weights 1/2 + 1/2 -> expert(x): {msg}"


def test_forward_is_equivariant_to_a_permutation_of_the_tokens() -> None:
    layer = random_layer(30, 8, 12, 5, seed=17)
    out, _ = run(layer, 2)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(0))
    shuffled = layer.clone()
    shuffled.x = layer.x[perm]
    out_perm, _ = run(shuffled, 2)
    msg = oracle.close(out_perm, out[perm], 1e-5, 1e-6)
    assert not msg, f"shuffling tokens must shuffle outputs the same way: {msg}"


def test_forward_does_not_modify_its_inputs() -> None:
    layer = random_layer(16, 8, 12, 4, seed=18)
    before = layer.clone()
    run(layer, 2)
    for name, a, b in zip(
        ("x", "router_weight", "w1", "w2", "w3"), layer.tensors, before.tensors, strict=True
    ):
        assert torch.equal(a, b), f"moe_forward wrote into {name}"


def test_forward_gradients_reach_the_router_and_every_weight() -> None:
    layer = random_layer(18, 6, 8, 4, seed=19)
    probe = torch.randn(18, 6, generator=torch.Generator().manual_seed(1))
    # Autograd does not cross into the solution's process: the backward pass of
    # sum(out * probe) runs there (cotangent `probe` for out, zeros for the logits),
    # and the gradients of all five inputs come back.
    _, grads, _ = vjp(
        sol.moe_forward,
        (*layer.tensors, 2),
        wrt=[0, 1, 2, 3, 4],
        cotangents=[probe, torch.zeros(18, 4)],
    )

    ref_leaves = [t.detach().double().requires_grad_() for t in layer.tensors]
    ref = oracle.moe_forward(Layer(*ref_leaves), 2)
    (ref * probe.double()).sum().backward()
    for name, mine, theirs in zip(
        ("x", "router_weight", "w1", "w2", "w3"), grads, ref_leaves, strict=True
    ):
        assert mine is not None, f"no gradient reached {name}: keep moe_forward differentiable"
        assert theirs.grad is not None
        msg = oracle.close(mine, theirs.grad, 1e-3, 1e-5)
        assert not msg, f"d out / d {name}: {msg}"


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    n_tokens=st.integers(1, 20),
    n_experts=st.integers(1, 6),
    hidden=st.integers(1, 12),
    inter=st.integers(1, 12),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_forward_matches_the_oracle_over_shapes(
    n_tokens: int, n_experts: int, hidden: int, inter: int, data: st.DataObject, seed: int
) -> None:
    k = data.draw(st.integers(1, n_experts), label="k")
    layer = random_layer(n_tokens, hidden, inter, n_experts, seed)
    check(layer, k, f"T={n_tokens} H={hidden} I={inter} E={n_experts} k={k}")
