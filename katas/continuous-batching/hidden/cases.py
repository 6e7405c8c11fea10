"""Integration case of the continuous-batching kata: the candidate's scheduler drives the
reference engine's paged cache."""

from __future__ import annotations

from typing import Any

from reference.components import Components
from reference.divergence import Pool, first_divergence, tiny_model

# Five prompts of mixed lengths, 12 new tokens each: at their longest they need 24
# blocks of 4 slots and the pool has 10, and a budget of 6 tokens cuts every prompt
# into chunks. The engine prefills in chunks, preempts and recomputes.
PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90],
    [8, 8, 15],
    [42, 6, 77, 13, 29, 50, 3, 91, 64],
    [11, 2],
]
POOL = Pool(block_size=4, num_blocks=10, token_budget=6)


def integration_case(impl: Any, device: str) -> str | None:
    """Your Scheduler in the reference engine: a tiny Mistral serves five requests over
    10 KV blocks with a 6-token budget; every step's tokens and hidden states must match
    the engine run by the reference scheduler."""
    model = tiny_model(window=None, device=device)
    components = Components(scheduler=impl.Scheduler)
    return first_divergence(model, PROMPTS, 12, components, cache="paged", pool=POOL)
