"""Mixture of experts (Mixtral): top-k routing, load-balancing loss, capacity, sorted dispatch.

A Mixtral MoE layer replaces the dense feed-forward block by E experts, each a
SwiGLU MLP `w2(silu(w1 x) * w3 x)`. A linear router scores every expert for every
token; each token goes to its k best experts and their outputs are mixed by the
renormalised router probabilities:

    logits = x @ router_weight.T                      # [T, E]
    probs = softmax(logits.float())                   # [T, E], float32 always
    weights, experts = topk(probs, k)                 # [T, k], best slot first
    weights /= weights.sum(-1)                        # the k weights sum to 1
    out[t] = sum_s weights[t, s] * expert_{experts[t, s]}(x[t])

Sorted dispatch
---------------
A loop over tokens launches T*k tiny matrix-vector products, each reading a whole
expert's weights. Instead, flatten the T*k (token, slot) assignments and sort them
by expert: every expert then finds its tokens in one contiguous slice, and runs one
matrix product over all of them. One gather in, E matmul groups, one weighted
scatter-add out. Worked by hand with T=3 tokens, E=3 experts, k=2:

    experts = [[2, 0],      token 0 -> experts 2, 0
               [0, 1],      token 1 -> experts 0, 1
               [2, 1]]      token 2 -> experts 2, 1

    assignment a = t*k + s:            a:  0  1  2  3  4  5
                                  expert:  2  0  0  1  2  1
    order = stable argsort(expert)     = [1, 2, 3, 5, 0, 4]
    sorted experts                     = [0, 0, 1, 1, 2, 2]
    tokens = order // k                = [0, 1, 1, 2, 0, 2]
    counts = bincount(expert)          = [2, 2, 2]
    offsets = cumsum(counts) - counts  = [0, 2, 4]

Expert 0 reads rows 0:2 of `x[tokens]` (tokens 0, 1), expert 1 rows 2:4 (tokens 1,
2), expert 2 rows 4:6 (tokens 0, 2). Row r of the experts' output is scaled by its
assignment's weight, `weights.flatten()[order[r]]`, and added into `out[tokens[r]]`
with `index_add_`.

Capacity: first come, first served
----------------------------------
With `capacity_factor`, each expert takes at most

    capacity = math.ceil(capacity_factor * T * k / E)

assignments, those of the lowest token indices. A token picks an expert at most
once, so token order is a total order within an expert and the slot never decides
(an early token's second choice beats a later token's first choice). The sort is
stable, so the first `capacity` rows of an expert's slice are exactly those tokens.
Dropped assignments contribute nothing and the surviving weights are NOT
renormalised: a token whose every assignment was dropped gets a zero output (the
residual connection around the layer still carries it). In the example,
capacity_factor=0.5 gives capacity ceil(0.5 * 3 * 2 / 3) = 1: expert 0 keeps token
0 and drops token 1, expert 1 keeps token 1 and drops token 2, expert 2 keeps token
0 and drops token 2. Token 0 gets both its experts, token 1 only expert 1 (weight
unchanged) and token 2 nothing.

Dtypes and ties: the router softmax always runs in float32 (bfloat16 probabilities
are too coarse to rank and renormalise); `route` returns float32 weights and int64
experts; `router_logits` keep the dtype of `x`; `out` has the dtype of `x` and is
accumulated in float32. Equal probabilities are ordered as `torch.topk` orders
them, which PyTorch leaves unspecified: any choice among tied experts is valid.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def route(router_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's k best experts and their renormalised weights.

    router_logits: [T, E], any float dtype. Returns (weights [T, k] float32, summing to
    1 along k, largest first; experts [T, k] int64, distinct within a row).
    """
    probs = torch.softmax(router_logits.float(), dim=-1)  # [T, E]
    weights, experts = torch.topk(probs, k, dim=-1)  # [T, k]
    return weights / weights.sum(dim=-1, keepdim=True), experts


def load_balancing_loss(router_logits: torch.Tensor, k: int) -> torch.Tensor:
    """Switch-style auxiliary loss `E * sum_e f_e * P_e`, transformers' value.

    f_e: the fraction of tokens that route to expert e in any of their k slots (the f
    sum to k); P_e: the mean router probability of e. Perfectly balanced routing gives
    k. A float32 scalar, differentiable through P (f is a count).
    """
    n_tokens, n_experts = router_logits.shape
    probs = torch.softmax(router_logits.float(), dim=-1)  # [T, E]
    experts = torch.topk(probs, k, dim=-1).indices  # [T, k]
    f = torch.bincount(experts.flatten(), minlength=n_experts).float() / n_tokens  # [E]
    p = probs.mean(dim=0)  # [E]
    return n_experts * torch.dot(f, p)


def moe_forward(
    x: torch.Tensor,
    router_weight: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    w3: torch.Tensor,
    k: int,
    capacity_factor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MoE layer over a flat batch of tokens.

    x: [T, H]; router_weight: [E, H]; w1, w3: [E, I, H]; w2: [E, H, I], all one dtype.
    Returns (out [T, H], router_logits [T, E]), both in x's dtype. Differentiable.
    """
    n_tokens, hidden = x.shape
    n_experts = router_weight.shape[0]
    router_logits = F.linear(x, router_weight)  # [T, E]
    weights, experts = route(router_logits, k)  # [T, k]

    flat_experts = experts.flatten()  # [T*k], assignment a = t*k + s
    # Stable, so each expert's slice lists its tokens in order: first come, first served.
    order = torch.argsort(flat_experts, stable=True)  # [T*k]
    counts = torch.bincount(flat_experts, minlength=n_experts)  # [E]
    if capacity_factor is not None:
        capacity = math.ceil(capacity_factor * n_tokens * k / n_experts)
        offsets = torch.cumsum(counts, dim=0) - counts  # [E] where each slice starts
        rank = torch.arange(order.numel(), device=x.device) - offsets[flat_experts[order]]
        order = order[rank < capacity]  # [N] kept assignments, still grouped by expert
        counts = counts.clamp(max=capacity)
    tokens = order // k  # [N] token of each sorted assignment
    gate = weights.flatten()[order]  # [N] float32

    xs = x[tokens]  # [N, H] gathered in expert order
    ys = []
    # The slice sizes are needed on the host: one sync (the capacity mask adds one).
    for e, xe in enumerate(torch.split(xs, counts.tolist())):
        if xe.shape[0] == 0:
            continue
        # In place: the SwiGLU allocates two [n_e, I] buffers instead of four.
        h = F.silu(F.linear(xe, w1[e]), inplace=True)  # [n_e, I]
        h = h.mul_(F.linear(xe, w3[e]))  # [n_e, I]
        ys.append(F.linear(h, w2[e]))  # [n_e, H]
    out = torch.zeros(n_tokens, hidden, dtype=torch.float32, device=x.device)
    if ys:
        y = torch.cat(ys).float().mul_(gate[:, None])  # [N, H] float32
        out.index_add_(0, tokens, y)
    return out.to(x.dtype), router_logits
