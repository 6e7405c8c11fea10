"""Slow, obvious oracles for the sparse MoE block, and the layers the tests build.

Everything here goes token by token in float64: Python's sort picks the top-k, a
counter per expert enforces capacity, and each token's output is a plain sum over its
experts. Nothing is shared with a sorted-dispatch implementation (no argsort, no
bincount, no index_add).
"""

from __future__ import annotations

import math
from typing import Any

import solution as sol
import torch
import torch.nn.functional as F

F64 = torch.float64
State = dict[str, torch.Tensor]


def random_state(
    num_experts: int, hidden: int, inter: int, seed: int, router_scale: float = 2.0
) -> State:
    """Random float32 weights with activations of order 1 and clear routing winners."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int, fan_in: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g) / math.sqrt(fan_in)

    return {
        "router_weight": rand(num_experts, hidden, fan_in=hidden) * router_scale,
        "w1": rand(num_experts, inter, hidden, fan_in=hidden),
        "w2": rand(num_experts, hidden, inter, fan_in=inter),
        "w3": rand(num_experts, inter, hidden, fan_in=hidden),
    }


def random_x(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def routed(table: list[list[float]], inter: int = 6, seed: int = 0) -> tuple[State, torch.Tensor]:
    """(state, x) whose router logits are exactly `table` [T, E].

    Token t is the one-hot vector e_t (hidden size T) and column t of the router weight
    is row t of the table, so x @ router_weight.T reproduces the table exactly.
    """
    logits = torch.tensor(table, dtype=torch.float32)
    num_tokens, num_experts = logits.shape
    state = random_state(num_experts, num_tokens, inter, seed)
    state["router_weight"] = logits.T.contiguous()
    return state, torch.eye(num_tokens)


def make(
    state: State,
    top_k: int,
    capacity_factor: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> Any:
    """The candidate's SparseMoE holding `state`, built in the worker."""
    num_experts, inter, hidden = state["w1"].shape
    config = sol.MoEConfig(hidden, inter, num_experts, top_k, capacity_factor, dtype)
    moe = sol.SparseMoE(config, 0)
    moe.load_state_dict(state)
    return moe


def expert(state: State, e: int, x: torch.Tensor) -> torch.Tensor:
    """w2 (silu(w1 x) * w3 x) for one token x [H], in float64."""
    w1, w2, w3 = (state[n][e].to(F64) for n in ("w1", "w2", "w3"))
    x = x.to(F64)
    return w2 @ (F.silu(w1 @ x) * (w3 @ x))


def softmax_row(row: torch.Tensor) -> torch.Tensor:
    row = row.to(F64)
    z = torch.exp(row - row.max())
    return z / z.sum()


def route_token(row: torch.Tensor, top_k: int) -> list[tuple[int, float]]:
    """[(expert, weight)] of one token, best first, weights renormalised over the k."""
    probs = softmax_row(row).tolist()
    best = sorted(range(len(probs)), key=lambda e: -probs[e])[:top_k]
    total = sum(probs[e] for e in best)
    return [(e, probs[e] / total) for e in best]


def capacity(capacity_factor: float, num_tokens: int, top_k: int, num_experts: int) -> int:
    return math.ceil(capacity_factor * num_tokens * top_k / num_experts)


def kept(
    logits: torch.Tensor, top_k: int, capacity_factor: float | None
) -> list[list[tuple[int, float]]]:
    """Per token, the (expert, weight) pairs that survive capacity, first come first served."""
    num_tokens, num_experts = logits.shape
    cap = None
    if capacity_factor is not None:
        cap = capacity(capacity_factor, num_tokens, top_k, num_experts)
    load = [0] * num_experts
    result = []
    for t in range(num_tokens):  # token order decides; a token never picks an expert twice
        mine = []
        for e, w in route_token(logits[t], top_k):
            if cap is None or load[e] < cap:
                load[e] += 1
                mine.append((e, w))
        result.append(mine)
    return result


def forward(
    state: State,
    x: torch.Tensor,
    top_k: int,
    capacity_factor: float | None = None,
    logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """y [T, H] in float64 for a flat batch x [T, H], token by token.

    `logits` (default x @ router_weight.T in float64) decide the routing: bfloat16 tests
    pass the candidate's own, checked, logits so a rounding near-tie cannot flip an expert.
    """
    if logits is None:
        logits = x.to(F64) @ state["router_weight"].to(F64).T
    rows = []
    for t, mine in enumerate(kept(logits, top_k, capacity_factor)):
        acc = torch.zeros(x.shape[1], dtype=F64)
        for e, w in mine:
            acc = acc + w * expert(state, e, x[t])
        rows.append(acc)
    return torch.stack(rows)


def expert_load(
    logits: torch.Tensor, top_k: int, capacity_factor: float | None = None
) -> list[int]:
    load = [0] * logits.shape[1]
    for mine in kept(logits, top_k, capacity_factor):
        for e, _ in mine:
            load[e] += 1
    return load


def load_balancing_loss(logits: torch.Tensor, top_k: int) -> float:
    """E * sum_e f_e * P_e, f from every routing decision (no capacity), in float64."""
    num_tokens, num_experts = logits.shape
    probs = [softmax_row(row).tolist() for row in logits]
    hits = [0] * num_experts
    for row in logits:
        for e, _ in route_token(row, top_k):
            hits[e] += 1
    p = [sum(probs[t][e] for t in range(num_tokens)) / num_tokens for e in range(num_experts)]
    return num_experts * sum(hits[e] / num_tokens * p[e] for e in range(num_experts))


def z_loss(logits: torch.Tensor) -> float:
    total = 0.0
    for row in logits.to(F64).tolist():
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        total += lse * lse
    return total / len(logits)


def close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> str:
    """'' when close, else a sentence saying where and by how much they differ."""
    a, b = actual.detach().to(F64), expected.detach().to(F64)
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)}, expected {tuple(b.shape)}"
    bad = ~torch.isclose(a, b, rtol=rtol, atol=atol)
    if not bad.any():
        return ""
    idx = tuple(int(i) for i in bad.nonzero()[0])
    rows = sorted({int(i) for i in bad.nonzero()[:, 0]})
    return (
        f"{int(bad.sum())} of {bad.numel()} values differ (rows {rows[:8]}"
        f"{'...' if len(rows) > 8 else ''}); first at {list(idx)}: got {float(a[idx]):.6g}, "
        f"expected {float(b[idx]):.6g} (max abs error {float((a - b).abs().max()):.3g})"
    )
