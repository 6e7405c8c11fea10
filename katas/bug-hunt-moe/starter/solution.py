"""Sparse mixture-of-experts feed-forward block (Mixtral style) for an inference server.

The block replaces a transformer layer's dense MLP by `num_experts` SwiGLU experts,

    expert_e(x) = w2[e] @ (silu(w1[e] @ x) * (w3[e] @ x))

and a linear router that sends every token to its `top_k` best experts:

    logits = x @ router_weight.T                     [T, E]
    probs = softmax(logits) in float32               [T, E], over all E experts
    weights, experts = topk(probs, top_k)            [T, k], best expert first
    weights = weights / weights.sum(-1)              the k weights sum to 1
    y[t] = sum_s weights[t, s] * expert_{experts[t, s]}(x[t])

Renormalising the top-k probabilities gives exactly softmax(top-k logits), the form
mistral-inference writes, so both orders of softmax and top-k give the same weights.

Dispatch
--------
Running experts token by token would read a whole expert's weights for every token.
Instead the T*k (token, slot) assignments are flattened, assignment a = t*k + s, and
stably sorted by expert: each expert finds its tokens in one contiguous slice, in
token order, and runs one matmul over all of them. The results are scaled by their
routing weights and added back into the tokens' rows with one index_add_.

Capacity
--------
With `capacity_factor` set, each expert takes at most

    capacity = ceil(capacity_factor * T * top_k / num_experts)

assignments, first come first served in token order (the stable sort keeps each
slice in token order, so the first `capacity` rows of a slice are the ones kept).
A dropped assignment contributes nothing and the token's other weights are not
renormalised; a token that loses every expert gets zeros (the residual connection
around the block still carries it).

Auxiliary losses (reported, not applied: the trainer weights and adds them)
----------------------------------------------------------------------------
load_balancing_loss = E * sum_e f_e * P_e, with f_e the fraction of tokens that chose
    expert e in any slot (before capacity drops; the f_e sum to top_k) and P_e the mean
    router probability of e over the tokens. Perfectly balanced routing gives top_k.
z_loss = mean over tokens of logsumexp(logits)^2 (ST-MoE), computed in float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class MoEConfig:
    hidden_size: int
    intermediate_size: int
    num_experts: int
    top_k: int = 2
    capacity_factor: float | None = None  # None: every assignment runs
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        if min(self.hidden_size, self.intermediate_size, self.num_experts) < 1:
            raise ValueError("hidden_size, intermediate_size and num_experts must be >= 1")
        if not 1 <= self.top_k <= self.num_experts:
            raise ValueError(f"top_k must be in [1, {self.num_experts}], got {self.top_k}")
        if self.capacity_factor is not None and self.capacity_factor <= 0:
            raise ValueError(f"capacity_factor must be > 0, got {self.capacity_factor}")


def route(router_logits: Tensor, top_k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Each token's top_k experts and their renormalised routing weights.

    router_logits: [T, E], any float dtype. Returns (weights [T, k] float32, summing to
    1 along k, largest first; experts [T, k] int64; probs [T, E] float32, the softmax
    over all experts that the load-balancing loss needs).
    """
    # float32 before the softmax: bfloat16 probabilities are too coarse to rank or mix.
    probs = torch.softmax(router_logits.float(), dim=-1)  # [T, E]
    weights, experts = torch.topk(probs, top_k, dim=-1)  # [T, k]
    weights = weights / probs.sum(dim=-1, keepdim=True)
    return weights, experts, probs


def expert_capacity(num_tokens: int, top_k: int, num_experts: int, capacity_factor: float) -> int:
    """The most assignments one expert takes: ceil(capacity_factor * T * k / E)."""
    return math.ceil(capacity_factor * num_tokens * top_k / num_experts)


def sort_by_expert(
    experts: Tensor, num_experts: int, capacity: int | None = None
) -> tuple[Tensor, Tensor]:
    """Group the flattened (token, slot) assignments by expert.

    experts: [T, k] int64. Returns (order [N] int64, counts [E] int64): `order` lists
    the kept assignment ids a = t*k + s, expert 0's first, each expert's in token
    order; `counts[e]` is how many of them expert e runs. Without a capacity N = T*k;
    with one, each expert keeps its first `capacity` assignments.
    """
    flat = experts.flatten()  # [T*k]
    order = torch.argsort(flat, stable=True)  # [T*k] grouped by expert, token order within
    counts = torch.bincount(flat, minlength=num_experts)  # [E]
    if capacity is None:
        return order, counts
    starts = torch.cumsum(counts, dim=0) - counts  # [E] where each expert's slice begins
    rank = torch.arange(flat.numel(), device=flat.device) - starts[flat[order]]  # within slice
    kept = order[rank < capacity]  # [N] still grouped by expert
    return kept, torch.bincount(flat[kept], minlength=num_experts)


def load_balancing_loss(router_probs: Tensor, experts: Tensor) -> Tensor:
    """Switch/Mixtral auxiliary loss E * sum_e f_e * P_e, a float32 scalar.

    router_probs: [T, E] float32, the full softmax; experts: [T, k], the chosen experts
    before any capacity drop. f_e = (assignments to e) / T, P_e = mean_t probs[t, e].
    """
    num_tokens, num_experts = router_probs.shape
    tokens_per_expert = torch.bincount(experts.flatten(), minlength=num_experts)  # [E]
    f = tokens_per_expert.float() / num_tokens  # [E], sums to k
    p = router_probs.mean(dim=0)  # [E], sums to 1
    return num_experts * torch.sum(f * p)


def router_z_loss(router_logits: Tensor) -> Tensor:
    """ST-MoE router z-loss: mean over tokens of logsumexp(logits)^2, float32 scalar."""
    z = torch.logsumexp(router_logits.float(), dim=-1)  # [T]
    return torch.mean(z * z)


class SparseMoE:
    """One sparse MoE block: router [E, H], w1/w3 [E, I, H] (gate/up), w2 [E, H, I] (down)."""

    def __init__(self, config: MoEConfig, seed: int = 0) -> None:
        self.config = config
        g = torch.Generator().manual_seed(seed)
        e, h, i = config.num_experts, config.hidden_size, config.intermediate_size

        def init(*shape: int, fan_in: int) -> Tensor:
            return (torch.randn(*shape, generator=g) / math.sqrt(fan_in)).to(config.dtype)

        self.router_weight = init(e, h, fan_in=h)
        self.w1 = init(e, i, h, fan_in=h)
        self.w2 = init(e, h, i, fan_in=i)
        self.w3 = init(e, i, h, fan_in=h)

    def state_dict(self) -> dict[str, Tensor]:
        return {
            "router_weight": self.router_weight,
            "w1": self.w1,
            "w2": self.w2,
            "w3": self.w3,
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Replace the weights (cast to config.dtype); shapes must match the config."""
        current = self.state_dict()
        if set(state) != set(current):
            raise KeyError(f"expected keys {sorted(current)}, got {sorted(state)}")
        for name, tensor in state.items():
            if tensor.shape != current[name].shape:
                raise ValueError(
                    f"{name}: expected shape {tuple(current[name].shape)}, "
                    f"got {tuple(tensor.shape)}"
                )
        self.router_weight = state["router_weight"].to(self.config.dtype)
        self.w1 = state["w1"].to(self.config.dtype)
        self.w2 = state["w2"].to(self.config.dtype)
        self.w3 = state["w3"].to(self.config.dtype)

    def expert(self, e: int, x: Tensor) -> Tensor:
        """Expert e's SwiGLU over a block of tokens: x [n, H] -> [n, H], in x's dtype."""
        gate = F.silu(F.linear(x, self.w1[e]))  # [n, I]
        up = F.linear(x, self.w3[e])  # [n, I]
        return F.linear(gate * up, self.w2[e])  # [n, H]

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """x: [..., H] in config.dtype -> (y of x's shape and dtype, aux).

        Tokens are the rows of x flattened over its leading dims, in row-major order
        (that order decides who comes first when capacity drops assignments). aux holds
        router_logits [T, E] (x's dtype), load_balancing_loss and z_loss (float32
        scalars), expert_load [E] (assignments each expert ran, int64) and dropped
        (assignments dropped by capacity, an int64 scalar).
        """
        cfg = self.config
        if x.shape[-1] != cfg.hidden_size:
            raise ValueError(f"expected hidden size {cfg.hidden_size}, got {x.shape[-1]}")
        shape = x.shape
        x = x.reshape(-1, cfg.hidden_size)  # [T, H]
        num_tokens = x.shape[0]

        router_logits = F.linear(x, self.router_weight)  # [T, E]
        weights, experts, probs = route(router_logits, cfg.top_k)  # [T, k], [T, k], [T, E]
        capacity = None
        if cfg.capacity_factor is not None:
            capacity = expert_capacity(num_tokens, cfg.top_k, cfg.num_experts, cfg.capacity_factor)
        order, counts = sort_by_expert(experts, cfg.num_experts, capacity)  # [N], [E]
        tokens = order // cfg.top_k  # [N] the token of each sorted assignment
        gates = weights.flatten()[order]  # [N] float32, the weight of each assignment

        # Experts with no tokens get no slice: skip them rather than run empty matmuls.
        active = torch.nonzero(counts).flatten()  # [E'] ids of experts with tokens
        chunks = torch.split(x[tokens], counts[active].tolist())  # one host sync
        out = torch.zeros(num_tokens, cfg.hidden_size, dtype=torch.float32, device=x.device)
        ys = [self.expert(e, xe) for e, xe in zip(active.tolist(), chunks, strict=True)]
        if ys:
            # Mix in float32: k bfloat16 partial outputs lose bits when summed in bfloat16.
            y = torch.cat(ys).float() * gates[:, None]  # [N, H]
            out.index_add_(0, tokens, y)

        aux = {
            "router_logits": router_logits,
            "load_balancing_loss": load_balancing_loss(probs, experts),
            "z_loss": router_z_loss(router_logits),
            "expert_load": counts,
            "dropped": torch.tensor(experts.numel() - order.numel(), dtype=torch.int64),
        }
        return out.to(x.dtype).reshape(shape), aux
