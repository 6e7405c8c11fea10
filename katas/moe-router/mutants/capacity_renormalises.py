# BUG: capacity renormalises each token's surviving weights to sum to 1
"""Mixtral MoE layer: top-k routing, load-balancing loss, capacity, expert dispatch.

One pass per expert: a boolean mask finds the (token, slot) pairs routed to it,
in token order (nonzero walks the [T, k] mask row by row), which is exactly the
first-come-first-served order capacity needs. Each expert then runs one batched
SwiGLU over its tokens and scatters the weighted result back with index_add_.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def route(router_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights [T, k] float32 summing to 1, experts [T, k] int64), best first."""
    probs = torch.softmax(router_logits.float(), dim=-1)  # [T, E] in float32
    weights, experts = torch.topk(probs, k, dim=-1)
    return weights / weights.sum(dim=-1, keepdim=True), experts


def load_balancing_loss(router_logits: torch.Tensor, k: int) -> torch.Tensor:
    """E * sum_e f_e * P_e: f_e share of tokens sending any slot to e, P_e mean prob."""
    n_tokens, n_experts = router_logits.shape
    probs = torch.softmax(router_logits.float(), dim=-1)  # [T, E]
    experts = torch.topk(probs, k, dim=-1).indices  # [T, k]
    hits = torch.zeros(n_experts, device=probs.device)
    hits.index_add_(0, experts.reshape(-1), torch.ones(experts.numel(), device=probs.device))
    f = hits / n_tokens  # [E], sums to k
    return n_experts * (f * probs.mean(dim=0)).sum()


def moe_forward(
    x: torch.Tensor,
    router_weight: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    w3: torch.Tensor,
    k: int,
    capacity_factor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(out [T, H], router_logits [T, E]) in x's dtype."""
    n_tokens, hidden = x.shape
    n_experts = router_weight.shape[0]
    router_logits = x @ router_weight.T  # [T, E]
    weights, experts = route(router_logits, k)  # [T, k]
    capacity = None
    if capacity_factor is not None:
        capacity = math.ceil(capacity_factor * n_tokens * k / n_experts)

    out = torch.zeros(n_tokens, hidden, dtype=torch.float32, device=x.device)
    if capacity is not None:
        kept = torch.zeros_like(weights)
        for e in range(n_experts):
            tok, slot = torch.nonzero(experts == e, as_tuple=True)
            kept[tok[:capacity], slot[:capacity]] = 1.0
        weights = weights * kept
        weights = weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    for e in range(n_experts):
        # Row-major nonzero: token order, so the first `capacity` are first come.
        tok, slot = torch.nonzero(experts == e, as_tuple=True)
        if capacity is not None:
            tok, slot = tok[:capacity], slot[:capacity]
        if tok.numel() == 0:
            continue
        xe = x[tok]  # [n_e, H]
        h = F.silu(xe @ w1[e].T) * (xe @ w3[e].T)  # [n_e, I]
        y = h @ w2[e].T  # [n_e, H]
        out.index_add_(0, tok, y.float() * weights[tok, slot, None])
    return out.to(x.dtype), router_logits
