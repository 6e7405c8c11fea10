"""Speed and memory cases: one Mixtral-shaped MoE layer, candidate and reference alike.

Speed: 384 tokens, H=256, I=512, 8 experts, top-2. Batched per-expert matmuls take a
few milliseconds; a loop over tokens runs 768 matrix-vector products that each read
a whole expert and is an order of magnitude slower.

Memory: 512 tokens, H=256, I=1024, 8 experts, top-2. The reference holds about one
expert's activations at a time (a few MiB); computing every expert on every token
materialises [E, T, I] intermediates (16 MiB each) and blows the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import torch

from reference.divergence import first_divergence, tiny_model
from reference.engine import Components

Inputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def layer(
    n_tokens: int, hidden: int, inter: int, n_experts: int, device: str, seed: int = 0
) -> Inputs:
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) * scale).to(device)

    x = rand(n_tokens, hidden)
    router = rand(n_experts, hidden, scale=hidden**-0.5)
    w1 = rand(n_experts, inter, hidden, scale=hidden**-0.5)
    w2 = rand(n_experts, hidden, inter, scale=inter**-0.5)
    w3 = rand(n_experts, inter, hidden, scale=hidden**-0.5)
    return x, router, w1, w2, w3


def speed_case(impl: ModuleType, device: str, size: int | None) -> Callable[[], object]:
    x, router, w1, w2, w3 = layer(size or 384, 256, 512, 8, device)

    def call() -> object:
        return impl.moe_forward(x, router, w1, w2, w3, 2)

    return call


def memory_case(impl: ModuleType, device: str) -> Callable[[], object]:
    x, router, w1, w2, w3 = layer(512, 256, 1024, 8, device, seed=1)

    def call() -> object:
        return impl.moe_forward(x, router, w1, w2, w3, 2)

    return call


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


def integration_case(impl: ModuleType, device: str) -> str | None:
    """Your moe_forward inside the reference engine: a tiny Mixtral (8 experts, top-2)
    generates; the tokens and every layer's hidden states must match the reference."""
    model = tiny_model(moe=True, device=device)
    components = Components(moe_forward=impl.moe_forward)
    return first_divergence(model, INTEGRATION_PROMPTS, 8, components, atol=1e-3, rtol=1e-3)
