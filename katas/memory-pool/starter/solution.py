"""A caching allocator over one byte buffer: see PROMPT.md for the full statement."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class OutOfMemory(RuntimeError):
    """No free block fits and no new segment fits in the buffer, even after empty_cache."""


class CachingAllocator:
    """Blocks carved from segments of one uint8 buffer, named by offset."""

    buffer: torch.Tensor  # uint8 [capacity_bytes]

    def __init__(self, capacity_bytes: int) -> None:
        raise NotImplementedError

    def malloc(self, nbytes: int) -> int:
        """The offset of a block for `nbytes` (best fit, split, or a new segment)."""
        raise NotImplementedError

    def free(self, offset: int) -> None:
        """Return the allocated block at `offset`, merged with free neighbours in its segment."""
        raise NotImplementedError

    def empty_cache(self) -> int:
        """Release every wholly free segment; returns the bytes released."""
        raise NotImplementedError

    def stats(self) -> dict[str, float]:
        """allocated_bytes, requested_bytes, reserved_bytes, active_blocks, segments,
        largest_free_block, fragmentation."""
        raise NotImplementedError

    def tensor(self, offset: int, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        """A view of the allocated block at `offset` as `dtype` with `shape`."""
        raise NotImplementedError
