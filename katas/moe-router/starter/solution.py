"""Mixture-of-experts router and dispatch: see PROMPT.md for the full statement."""

from __future__ import annotations

import torch


def route(router_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights [T, k] float32 summing to 1, experts [T, k] int64), most probable first."""
    raise NotImplementedError


def load_balancing_loss(router_logits: torch.Tensor, k: int) -> torch.Tensor:
    """E * sum_e f_e * P_e as a 0-dim float32 tensor, differentiable through P."""
    raise NotImplementedError


def moe_forward(
    x: torch.Tensor,
    router_weight: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    w3: torch.Tensor,
    k: int,
    capacity_factor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(out [T, H] in x's dtype, router_logits [T, E] in x's dtype).

    x [T, H], router_weight [E, H], w1 and w3 [E, I, H], w2 [E, H, I].
    """
    raise NotImplementedError
