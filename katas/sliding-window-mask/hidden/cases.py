"""Memory and speed cases for the sliding-window-mask kata: an 8192-token prefill mask.

8192 x 8192 bools are 64 MiB. The reference peaks at the output plus two short
vectors; a float32 grid alone is 256 MiB and an int64 grid of `p - j` 512 MiB.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from reference.divergence import first_divergence, tiny_model
from reference.engine import Components

PREFILL = 8192
WINDOW = 4096  # Mistral 7B's sliding window


def memory_case(impl: ModuleType, device: str) -> Callable[[], object]:
    """One 8192-token prefill mask with Mistral's window."""

    def call() -> object:
        return impl.sliding_window_mask(PREFILL, PREFILL, WINDOW, 0, device)

    return call


def speed_case(impl: ModuleType, device: str, size: int | None) -> Callable[[], object]:
    """A prefill mask of `size` tokens (default 8192) with Mistral's window."""
    n = PREFILL if size is None else size

    def call() -> object:
        return impl.sliding_window_mask(n, n, WINDOW, 0, device)

    return call


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


def integration_case(impl: ModuleType, device: str) -> str | None:
    """Your mask inside the reference engine: a tiny Mistral with a sliding window of 8
    prefills prompts longer than the window and decodes past it; the tokens and every
    layer's hidden states must match the reference engine."""
    model = tiny_model(window=8, device=device)
    components = Components(sliding_window_mask=impl.sliding_window_mask)
    return first_divergence(model, INTEGRATION_PROMPTS, 14, components, cache="contiguous")
