"""Memory and speed cases for the sliding-window-mask kata: an 8192-token prefill mask.

8192 x 8192 bools are 64 MiB. The reference peaks at the output plus two short
vectors; a float32 grid alone is 256 MiB and an int64 grid of `p - j` 512 MiB.

Each call gets its own window (Mistral's 4096, plus the call's index): the output
differs from call to call, so nothing can be cached by its arguments, and the work
is the same for every window. One call writes 64 MiB (about 100 ms on two CPU cores),
so the channel's fraction of a millisecond per call is small beside it.
"""

from __future__ import annotations

from typing import Any

from grader.judge.measuring import Case
from reference.components import Components
from reference.divergence import first_divergence, tiny_model

PREFILL = 8192
WINDOW = 4096  # Mistral 7B's sliding window


def memory_case(impl: Any, device: str) -> Case:
    """One 8192-token prefill mask with (about) Mistral's window."""
    return Case(
        call=lambda window: impl.sliding_window_mask(PREFILL, PREFILL, window, 0, device),
        inputs=lambda i: (WINDOW + i,),
    )


def speed_case(impl: Any, device: str, size: int | None) -> Case:
    """A prefill mask of `size` tokens (default 8192) with (about) Mistral's window."""
    n = PREFILL if size is None else size
    return Case(
        call=lambda window: impl.sliding_window_mask(n, n, window, 0, device),
        inputs=lambda i: (WINDOW + i,),
    )


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


def integration_case(impl: Any, device: str) -> str | None:
    """Your mask inside the reference engine: a tiny Mistral with a sliding window of 8
    prefills prompts longer than the window and decodes past it; the tokens and every
    layer's hidden states must match the reference engine."""
    model = tiny_model(window=8, device=device)
    components = Components(sliding_window_mask=impl.sliding_window_mask)
    return first_divergence(model, INTEGRATION_PROMPTS, 14, components, cache="contiguous")
