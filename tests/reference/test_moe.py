"""reference.moe against transformers 5's Mixtral MoE block and load-balancing loss.

transformers stores a Mixtral layer's experts fused: `experts.gate_up_proj` is
[E, 2I, H] with the gate (our w1) in rows :I and the up projection (our w3) in rows
I:, and `experts.down_proj` is [E, H, I] (our w2); the router is `gate.weight`
[E, H]. `load_balancing_loss_func` takes a tuple of per-layer router logits.
Capacity has no transformers counterpart: it is checked against a slow per-token
loop here and against the hand-worked example of the module docstring.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from transformers import MixtralConfig
from transformers.models.mixtral.modeling_mixtral import (
    MixtralSparseMoeBlock,
    load_balancing_loss_func,
)

from reference.moe import load_balancing_loss, moe_forward, route

Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def mixtral_block(
    n_experts: int = 6, k: int = 2, hidden: int = 32, inter: int = 48, seed: int = 0
) -> MixtralSparseMoeBlock:
    config = MixtralConfig(
        hidden_size=hidden,
        intermediate_size=inter,
        num_local_experts=n_experts,
        num_experts_per_tok=k,
    )
    config._experts_implementation = "eager"
    torch.manual_seed(seed)
    block = MixtralSparseMoeBlock(config).eval()  # type: ignore[no-untyped-call]
    with torch.no_grad():
        block.gate.weight.normal_(0, hidden**-0.5 * 2)
        block.experts.gate_up_proj.normal_(0, hidden**-0.5)
        block.experts.down_proj.normal_(0, inter**-0.5)
    return block


def weights_of(block: MixtralSparseMoeBlock) -> Weights:
    """(router [E, H], w1 [E, I, H], w2 [E, H, I], w3 [E, I, H]) as our API takes them."""
    inter = block.experts.intermediate_dim
    gate_up = block.experts.gate_up_proj  # [E, 2I, H]
    return block.gate.weight, gate_up[:, :inter], block.experts.down_proj, gate_up[:, inter:]


def tokens(n: int, hidden: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, hidden, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("n_experts", "k"), [(6, 1), (6, 2), (6, 3), (4, 4), (8, 2)])
def test_moe_forward_equals_the_transformers_mixtral_block(n_experts: int, k: int) -> None:
    block = mixtral_block(n_experts, k)
    x = tokens(40, 32)
    router, w1, w2, w3 = weights_of(block)
    with torch.no_grad():
        expected = block(x.view(2, 20, 32)).view(40, 32)
        expected_logits = block.gate(x)[0]
        out, logits = moe_forward(x, router, w1, w2, w3, k)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits, expected_logits, rtol=1e-6, atol=1e-6)


def test_route_equals_the_transformers_router_scores_and_indices() -> None:
    block = mixtral_block(8, 2)
    with torch.no_grad():
        logits, scores, indices = block.gate(tokens(64, 32))
    weights, experts = route(logits, 2)
    assert torch.equal(experts, indices)
    assert weights.dtype == scores.dtype == torch.float32
    torch.testing.assert_close(weights, scores, rtol=1e-6, atol=1e-7)


def test_moe_forward_in_bfloat16_stays_close_to_the_transformers_block() -> None:
    block = mixtral_block(8, 2).to(torch.bfloat16)
    x = tokens(48, 32).to(torch.bfloat16)
    router, w1, w2, w3 = weights_of(block)
    with torch.no_grad():
        expected = block(x[None])[0]
        out, logits = moe_forward(x, router, w1, w2, w3, 2)
    assert out.dtype == logits.dtype == torch.bfloat16
    # transformers accumulates the k expert outputs in bf16, we in float32: a few ulps apart.
    torch.testing.assert_close(out.float(), expected.float(), rtol=2e-2, atol=2e-2)


def test_moe_forward_gradients_equal_the_transformers_block_gradients() -> None:
    block = mixtral_block(6, 2)
    x = tokens(30, 32).requires_grad_()
    probe = tokens(30, 32, seed=2)
    torch.autograd.backward((block(x[None])[0] * probe).sum())
    expected = [x.grad, block.gate.weight.grad, block.experts.gate_up_proj.grad]
    expected.append(block.experts.down_proj.grad)

    router, w1, w2, w3 = (w.detach().clone().requires_grad_() for w in weights_of(block))
    x2 = x.detach().clone().requires_grad_()
    out, _ = moe_forward(x2, router, w1, w2, w3, 2)
    torch.autograd.backward((out * probe).sum())
    assert x2.grad is not None and router.grad is not None and w1.grad is not None
    assert w2.grad is not None and w3.grad is not None
    mine = [x2.grad, router.grad, torch.cat([w1.grad, w3.grad], dim=1), w2.grad]
    for got, want in zip(mine, expected, strict=True):
        assert want is not None
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("n_experts", "k"), [(8, 1), (8, 2), (5, 3), (4, 4)])
def test_load_balancing_loss_equals_transformers(n_experts: int, k: int) -> None:
    logits = tokens(100, n_experts, seed=n_experts + k) * 2
    expected = load_balancing_loss_func((logits,), n_experts, k)
    assert isinstance(expected, torch.Tensor)
    got = load_balancing_loss(logits, k)
    assert got.dim() == 0 and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


def test_load_balancing_loss_gradient_equals_transformers() -> None:
    x = tokens(50, 16)
    weight = tokens(8, 16, seed=3).requires_grad_()
    torch.autograd.backward(load_balancing_loss(x @ weight.T, 2))
    theirs = weight.detach().clone().requires_grad_()
    expected = load_balancing_loss_func((x @ theirs.T,), 8, 2)
    assert isinstance(expected, torch.Tensor)
    torch.autograd.backward(expected)
    assert weight.grad is not None and theirs.grad is not None
    assert float(weight.grad.abs().sum()) > 0, "no gradient reached the router weight"
    torch.testing.assert_close(weight.grad, theirs.grad, rtol=1e-5, atol=1e-7)


def test_load_balancing_loss_of_perfectly_balanced_routing_is_k() -> None:
    # Token t prefers experts t and t+1 (mod 4): f = 1/2 each, P = 1/4 each by symmetry.
    logits = torch.zeros(4, 4)
    for t in range(4):
        logits[t, t], logits[t, (t + 1) % 4] = 2.0, 1.0
    assert float(load_balancing_loss(logits, 2)) == pytest.approx(2.0, abs=1e-6)


def slow_moe(
    x: torch.Tensor, router: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, w3: torch.Tensor,
    k: int, capacity_factor: float | None,
) -> torch.Tensor:  # fmt: skip
    """Token by token, in float64, with a per-expert counter for first come first served."""
    n_tokens, n_experts = x.shape[0], router.shape[0]
    cap = (
        n_tokens * k
        if capacity_factor is None
        else math.ceil(capacity_factor * n_tokens * k / n_experts)
    )
    load = [0] * n_experts
    out = torch.zeros(x.shape, dtype=torch.float64)
    for t in range(n_tokens):
        xt = x[t].double()
        probs = torch.softmax(router.double() @ xt, dim=0)
        best = sorted(range(n_experts), key=lambda e: -float(probs[e]))[:k]
        total = sum(float(probs[e]) for e in best)
        for e in best:
            if load[e] >= cap:
                continue
            load[e] += 1
            h = F.silu(w1[e].double() @ xt) * (w3[e].double() @ xt)
            out[t] += float(probs[e]) / total * (w2[e].double() @ h)
    return out


@pytest.mark.parametrize("capacity_factor", [0.25, 0.5, 1.0, 1.25, 8.0])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_capacity_drops_late_tokens_like_a_per_token_loop(capacity_factor: float, k: int) -> None:
    block = mixtral_block(6, k)
    router, w1, w2, w3 = (w.detach() for w in weights_of(block))
    x = tokens(36, 32)
    out, _ = moe_forward(x, router, w1, w2, w3, k, capacity_factor)
    expected = slow_moe(x, router, w1, w2, w3, k, capacity_factor)
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-5)


def test_capacity_worked_example_of_the_docstring() -> None:
    # T=3, E=3, k=2: logits route token 0 -> [2, 0], token 1 -> [0, 1], token 2 -> [2, 1].
    # capacity_factor 0.5: capacity 1; token 0 keeps both, token 1 keeps expert 1 only
    # (weight unchanged), token 2 keeps nothing.
    table = torch.tensor([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 1.0, 2.0]])  # [T, E]
    x, router = torch.eye(3), table.T.contiguous()
    g = torch.Generator().manual_seed(0)
    w1, w3 = torch.randn(3, 5, 3, generator=g), torch.randn(3, 5, 3, generator=g)
    w2 = torch.randn(3, 3, 5, generator=g)
    out, _ = moe_forward(x, router, w1, w2, w3, 2, capacity_factor=0.5)

    def expert(e: int, t: int) -> torch.Tensor:
        return w2[e] @ (F.silu(w1[e] @ x[t]) * (w3[e] @ x[t]))

    hi, lo = math.e**2 / (math.e**2 + math.e), math.e / (math.e**2 + math.e)
    expected = torch.stack(
        [hi * expert(2, 0) + lo * expert(0, 0), lo * expert(1, 1), torch.zeros(3)]
    )
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_moe_forward_handles_experts_that_get_no_tokens() -> None:
    block = mixtral_block(8, 1)
    router, w1, w2, w3 = (w.detach() for w in weights_of(block))
    x = tokens(3, 32)  # 3 tokens, top-1: at least 5 of the 8 experts stay idle
    out, _ = moe_forward(x, router, w1, w2, w3, 1)
    expected = slow_moe(x, router, w1, w2, w3, 1, None)
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_moe_forward_on_cuda_equals_cpu(dtype: torch.dtype) -> None:
    block = mixtral_block(8, 2)
    router, w1, w2, w3 = (w.detach().to(dtype) for w in weights_of(block))
    x = tokens(64, 32).to(dtype)
    for cf in (None, 0.5):
        out, logits = moe_forward(x, router, w1, w2, w3, 2, cf)
        xg, rg, w1g, w2g, w3g = (t.cuda() for t in (x, router, w1, w2, w3))
        out_gpu, logits_gpu = moe_forward(xg, rg, w1g, w2g, w3g, 2, cf)
        assert out_gpu.device.type == "cuda" and out_gpu.dtype == dtype
        tol = 1e-4 if dtype == torch.float32 else 3e-2
        torch.testing.assert_close(out_gpu.cpu().float(), out.float(), rtol=tol, atol=tol)
        torch.testing.assert_close(logits_gpu.cpu().float(), logits.float(), rtol=tol, atol=tol)
        loss_gpu = load_balancing_loss(logits_gpu, 2)
        assert loss_gpu.device.type == "cuda"
