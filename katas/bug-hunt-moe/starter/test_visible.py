"""The repro attached to the report. Run with `drill test`."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from solution import MoEConfig, SparseMoE, route

Tensor = torch.Tensor


def layer(experts: int, hidden: int, inter: int, seed: int) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "router_weight": 2 * torch.randn(experts, hidden, generator=g) / math.sqrt(hidden),
        "w1": torch.randn(experts, inter, hidden, generator=g) / math.sqrt(hidden),
        "w2": torch.randn(experts, hidden, inter, generator=g) / math.sqrt(inter),
        "w3": torch.randn(experts, inter, hidden, generator=g) / math.sqrt(hidden),
    }


def moe_of(state: dict[str, Tensor], top_k: int, capacity_factor: float | None = None) -> SparseMoE:
    experts, inter, hidden = state["w1"].shape
    moe = SparseMoE(MoEConfig(hidden, inter, experts, top_k, capacity_factor), seed=0)
    moe.load_state_dict(state)
    return moe


def with_logits(table: list[list[float]], capacity_factor: float | None, top_k: int) -> SparseMoE:
    """A block whose router logits are exactly `table` for the inputs torch.eye(T)."""
    logits = torch.tensor(table)
    state = layer(logits.shape[1], logits.shape[0], 6, seed=1)
    state["router_weight"] = logits.T.contiguous()
    return moe_of(state, top_k, capacity_factor)


def dense_loop(state: dict[str, Tensor], x: Tensor, top_k: int) -> Tensor:
    """The definition, token by token in float64."""
    s = {n: w.double() for n, w in state.items()}
    out = torch.zeros(x.shape, dtype=torch.float64)
    for t, xt in enumerate(x.double()):
        probs = torch.softmax(s["router_weight"] @ xt, dim=0)
        top = probs.topk(top_k)
        for w, e in zip(top.values / top.values.sum(), top.indices.tolist(), strict=True):
            out[t] += w * (s["w2"][e] @ (F.silu(s["w1"][e] @ xt) * (s["w3"][e] @ xt)))
    return out


def test_prefill_matches_a_token_by_token_loop() -> None:
    state = layer(experts=4, hidden=16, inter=24, seed=0)
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))
    y, _ = moe_of(state, top_k=2).forward(x)
    torch.testing.assert_close(y.double(), dense_loop(state, x, 2), rtol=1e-4, atol=1e-5)


def test_decoding_one_token_at_a_time_matches_prefill() -> None:
    moe = moe_of(layer(experts=8, hidden=16, inter=24, seed=2), top_k=2)
    x = torch.randn(6, 16, generator=torch.Generator().manual_seed(3))
    prefill, _ = moe.forward(x)
    decoded = torch.cat([moe.forward(x[t : t + 1])[0] for t in range(6)])
    torch.testing.assert_close(decoded, prefill, rtol=1e-5, atol=1e-6)


def test_adding_another_prompt_to_the_batch_does_not_change_this_one() -> None:
    moe = moe_of(layer(experts=4, hidden=16, inter=24, seed=4), top_k=2)
    g = torch.Generator().manual_seed(5)
    prompt, other = torch.randn(1, 5, 16, generator=g), torch.randn(1, 7, 16, generator=g)
    alone, _ = moe.forward(prompt)
    together, _ = moe.forward(torch.cat([prompt, other[:, :5]]))
    torch.testing.assert_close(together[:1], alone, rtol=1e-5, atol=1e-6)


def test_bfloat16_routing_weights_match_float32_routing() -> None:
    # bfloat16 logits 0.5 and 0.50390625 are one step apart; the router mixes in float32.
    logits = torch.tensor([[0.5, 0.50390625, -3.0, -3.0]], dtype=torch.bfloat16)
    weights, experts, _ = route(logits, 2)
    expected, expected_experts, _ = route(logits.float(), 2)
    assert experts.tolist() == expected_experts.tolist() == [[1, 0]]
    torch.testing.assert_close(weights, expected, rtol=0, atol=1e-6)


def test_balanced_batch_within_capacity_drops_nothing() -> None:
    # 8 tokens, 4 experts, top_k=2: each expert gets exactly 4 of the 16 assignments,
    # and capacity_factor=1.0 gives each room for ceil(1.0 * 8 * 2 / 4) = 4.
    table = [[3.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 2.0], [2.0, 0.0, 0.0, 3.0]] * 2
    table += [[0.0, 3.0, 2.0, 0.0], [0.0, 2.0, 3.0, 0.0]]
    _, aux = with_logits(table, capacity_factor=1.0, top_k=2).forward(torch.eye(8))
    assert aux["expert_load"].tolist() == [4, 4, 4, 4]
    assert int(aux["dropped"]) == 0


def test_capacity_worked_example() -> None:
    # 4 tokens all want experts 0 then 1; capacity ceil(1.0 * 4 * 2 / 3) = 3: token 3 is
    # dropped from both and outputs zeros, tokens 0-2 keep both experts.
    moe = with_logits([[3.0, 2.0, 0.0]] * 4, capacity_factor=1.0, top_k=2)
    y, aux = moe.forward(torch.eye(4))
    assert aux["expert_load"].tolist() == [3, 3, 0]
    assert int(aux["dropped"]) == 2
    assert torch.equal(y[3], torch.zeros(4)) and bool((y[:3] != 0).any())


def test_load_balancing_loss_rises_when_routing_collapses() -> None:
    # Balanced routing gives top_k; every token on expert 0 gives about 3.86 (E=4, k=1).
    _, balanced = with_logits([[0.0] * 4] * 8, None, top_k=1).forward(torch.eye(8))
    _, collapsed = with_logits([[4.0, 0.0, 0.0, 0.0]] * 8, None, top_k=1).forward(torch.eye(8))
    assert abs(float(balanced["load_balancing_loss"]) - 1.0) < 1e-5
    p = math.exp(4) / (math.exp(4) + 3)
    assert abs(float(collapsed["load_balancing_loss"]) - 4 * p) < 1e-5


def test_z_loss_of_large_router_logits() -> None:
    # logsumexp([100, 98, 0]) = 100.127, so the z-loss is 100.127^2 = 10025.4.
    _, aux = with_logits([[100.0, 98.0, 0.0]], None, top_k=1).forward(torch.eye(1))
    expected = (100 + math.log1p(math.exp(-2) + math.exp(-100))) ** 2
    assert math.isfinite(float(aux["z_loss"]))
    assert abs(float(aux["z_loss"]) - expected) < 1e-3 * expected
