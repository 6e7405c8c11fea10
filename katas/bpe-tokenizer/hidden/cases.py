"""Memory and speed cases: both time or profile training, the heart of this kata."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from oracles import CORPUS


def memory_case(impl: ModuleType, device: str) -> Callable[[], object]:
    """Train 768 merges on 200 KB of English (peak heap during training).

    Storing each distinct chunk once with its count keeps the peak near the
    reference's; keeping every chunk occurrence as its own list costs about 3.5x.
    """
    text = CORPUS[:200_000]
    return lambda: impl.BPETokenizer.train(text, 1024)


def speed_case(impl: ModuleType, device: str, size: int | None) -> Callable[[], object]:
    """Train 1,792 merges on 100 KB of English (about 0.3 s for the reference)."""
    text = CORPUS[:100_000]
    return lambda: impl.BPETokenizer.train(text, 2048)
