"""Slow, obvious oracles for the MoE kata, and the layers the tests feed them.

Everything here works token by token in float64, with Python's own sort for the
top-k and a per-expert counter for capacity, so it shares no code and no trick
(sorting assignments, masks, index_add) with any fast implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

F64 = torch.float64


@dataclass
class Layer:
    """One MoE layer's inputs: x [T, H], router [E, H], w1/w3 [E, I, H], w2 [E, H, I]."""

    x: torch.Tensor
    router: torch.Tensor
    w1: torch.Tensor
    w2: torch.Tensor
    w3: torch.Tensor

    def to(self, dtype: torch.dtype) -> Layer:
        return Layer(*(t.to(dtype) for t in (self.x, self.router, self.w1, self.w2, self.w3)))

    def clone(self) -> Layer:
        return Layer(*(t.clone() for t in (self.x, self.router, self.w1, self.w2, self.w3)))

    @property
    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.x, self.router, self.w1, self.w2, self.w3)


def random_layer(n_tokens: int, hidden: int, inter: int, n_experts: int, seed: int = 0) -> Layer:
    """Random float32 weights scaled so every activation stays of order 1."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int, fan_in: int = 1) -> torch.Tensor:
        return torch.randn(*shape, generator=g) / math.sqrt(fan_in)

    return Layer(
        x=rand(n_tokens, hidden),
        router=rand(n_experts, hidden, fan_in=hidden) * 2.0,  # clear winners, no near-ties
        w1=rand(n_experts, inter, hidden, fan_in=hidden),
        w2=rand(n_experts, hidden, inter, fan_in=inter),
        w3=rand(n_experts, inter, hidden, fan_in=hidden),
    )


def routed_layer(logits: list[list[float]], inter: int = 6, seed: int = 0) -> Layer:
    """A layer whose router logits are exactly `logits` [T, E].

    Token t's input is the one-hot vector e_t (hidden size = T), and column t of the
    router weight is row t of the table, so `x @ router.T` reproduces it exactly.
    """
    table = torch.tensor(logits, dtype=torch.float32)  # [T, E]
    n_tokens, n_experts = table.shape
    layer = random_layer(n_tokens, n_tokens, inter, n_experts, seed)
    layer.x = torch.eye(n_tokens)
    layer.router = table.T.contiguous()
    return layer


def expert(layer: Layer, e: int, x: torch.Tensor) -> torch.Tensor:
    """Expert e on one token x [H] in float64: w2 (silu(w1 x) * w3 x)."""
    w1, w2, w3 = (w[e].to(F64) for w in (layer.w1, layer.w2, layer.w3))
    x = x.to(F64)
    return w2 @ (F.silu(w1 @ x) * (w3 @ x))


def softmax_row(row: torch.Tensor) -> torch.Tensor:
    row = row.to(F64)
    z = torch.exp(row - row.max())
    return z / z.sum()


def top_experts(probs: torch.Tensor, k: int) -> list[int]:
    """The k most probable experts of one token, best first (Python's sort)."""
    p = probs.detach()
    return sorted(range(p.numel()), key=lambda e: -float(p[e]))[:k]


def route_token(row: torch.Tensor, k: int) -> list[tuple[int, torch.Tensor]]:
    """[(expert, weight)] for one token, best first; weights renormalised, float64."""
    probs = softmax_row(row)
    best = top_experts(probs, k)
    total = sum(probs[e] for e in best)
    return [(e, probs[e] / total) for e in best]


def route(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights [T, k] float64, experts [T, k] int64) by the obvious per-token rule."""
    rows = [route_token(row, k) for row in logits]
    weights = torch.tensor([[float(w) for _, w in r] for r in rows], dtype=F64)
    experts = torch.tensor([[e for e, _ in r] for r in rows], dtype=torch.int64)
    return weights.reshape(len(rows), k), experts.reshape(len(rows), k)


def load_balancing_loss(logits: torch.Tensor, k: int) -> torch.Tensor:
    """E * sum_e f_e * P_e in float64; differentiable through P when logits require grad."""
    n_tokens, n_experts = logits.shape
    probs = torch.stack([softmax_row(row) for row in logits])  # [T, E]
    hits = [0] * n_experts
    for t in range(n_tokens):
        for e in top_experts(probs[t].detach(), k):
            hits[e] += 1
    f = torch.tensor(hits, dtype=F64) / n_tokens
    return n_experts * (f * probs.mean(dim=0)).sum()


def capacity(capacity_factor: float, n_tokens: int, k: int, n_experts: int) -> int:
    return math.ceil(capacity_factor * n_tokens * k / n_experts)


def kept_assignments(
    logits: torch.Tensor, k: int, capacity_factor: float | None
) -> list[list[tuple[int, torch.Tensor]]]:
    """Per token, the (expert, weight) pairs that survive capacity, first come first served."""
    n_tokens, n_experts = logits.shape
    cap = None if capacity_factor is None else capacity(capacity_factor, n_tokens, k, n_experts)
    load = [0] * n_experts
    kept: list[list[tuple[int, torch.Tensor]]] = []
    for t in range(n_tokens):  # token order; a token never picks an expert twice
        mine = []
        for e, w in route_token(logits[t], k):
            if cap is None or load[e] < cap:
                load[e] += 1
                mine.append((e, w))
        kept.append(mine)
    return kept


def moe_forward(
    layer: Layer,
    k: int,
    capacity_factor: float | None = None,
    logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """out [T, H] in float64, token by token.

    `logits` (default: x @ router.T in float64) decide the routing; tests pass the
    candidate's own logits after checking them, so that a bfloat16 rounding of a
    near-tie cannot make the oracle pick a different expert than the candidate.
    """
    if logits is None:
        logits = layer.x.to(F64) @ layer.router.to(F64).T
    rows = []
    for t, mine in enumerate(kept_assignments(logits, k, capacity_factor)):
        acc = torch.zeros(layer.x.shape[1], dtype=F64)
        for e, w in mine:
            acc = acc + w * expert(layer, e, layer.x[t])
        rows.append(acc)
    return torch.stack(rows)


def close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> str:
    """'' when close, else a sentence saying where and by how much they differ."""
    a, b = actual.detach().to(F64), expected.detach().to(F64)
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)}, expected {tuple(b.shape)}"
    bad = ~torch.isclose(a, b, rtol=rtol, atol=atol)
    if not bad.any():
        return ""
    idx = tuple(int(i) for i in bad.nonzero()[0])
    return (
        f"{int(bad.sum())} of {bad.numel()} values differ; first at {list(idx)}: "
        f"got {float(a[idx]):.6g}, expected {float(b[idx]):.6g} "
        f"(max abs error {float((a - b).abs().max()):.3g})"
    )
