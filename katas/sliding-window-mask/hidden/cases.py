"""Memory and speed cases for the sliding-window-mask kata: an 8192-token prefill mask.

8192 x 8192 bools are 64 MiB. The reference peaks at the output plus two short
vectors; a float32 grid alone is 256 MiB and an int64 grid of `p - j` 512 MiB.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

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
