"""A caching allocator over one byte buffer: see PROMPT.md for the full statement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

MIB = 1 << 20
ALIGN = 512
SMALL_SIZE = 1 * MIB
SMALL_SEGMENT = 2 * MIB
LARGE_SEGMENT = 20 * MIB
MIN_LARGE_ALLOC = 10 * MIB
ROUND_LARGE = 2 * MIB


class OutOfMemory(RuntimeError):
    pass


@dataclass(eq=False)
class Block:
    offset: int
    size: int
    segment: int  # the offset of the segment holding it
    small: bool
    requested: int = 0
    live: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.size


class CachingAllocator:
    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes < 1:
            raise ValueError(f"capacity must be positive, got {capacity_bytes}")
        self.capacity = capacity_bytes
        self.buffer = torch.empty(capacity_bytes, dtype=torch.uint8)
        self.segments: dict[int, tuple[int, bool]] = {}  # offset -> (size, small)
        self.starts: dict[int, Block] = {}  # every block, by its first byte
        self.ends: dict[int, Block] = {}  # every block, by the byte after it
        self.free_blocks: dict[bool, set[Block]] = {True: set(), False: set()}

    def _add(self, block: Block) -> None:
        self.starts[block.offset] = block
        self.ends[block.end] = block

    def _remove(self, block: Block) -> None:
        del self.starts[block.offset]
        del self.ends[block.end]

    def _place(self, size: int) -> int | None:
        start = 0
        for offset in sorted(self.segments):
            if offset - start >= size:
                return start
            start = offset + self.segments[offset][0]
        return start if self.capacity - start >= size else None

    def _new_segment(self, size: int, small: bool) -> Block:
        if small:
            length = SMALL_SEGMENT
        elif size < MIN_LARGE_ALLOC:
            length = LARGE_SEGMENT
        else:
            length = ROUND_LARGE * math.ceil(size / ROUND_LARGE)
        offset = self._place(length)
        if offset is None:
            self.empty_cache()
            offset = self._place(length)
            if offset is None:
                raise OutOfMemory(f"no room for a segment of {length} bytes")
        self.segments[offset] = (length, small)
        block = Block(offset, length, offset, small)
        self._add(block)
        return block

    def malloc(self, nbytes: int) -> int:
        if nbytes < 1:
            raise ValueError(f"a request must be at least 1 byte, got {nbytes}")
        size = ALIGN * math.ceil(nbytes / ALIGN)
        small = size <= SMALL_SIZE
        fits = [b for b in self.free_blocks[small] if b.size >= size]
        if fits:
            block = min(fits, key=lambda b: (b.size, b.offset))
            self.free_blocks[small].remove(block)
        else:
            block = self._new_segment(size, small)
        remainder = block.size - size
        if (remainder >= ALIGN) if small else (remainder > SMALL_SIZE):
            self._remove(block)
            rest = Block(block.offset + size, remainder, block.segment, small)
            block.size = size
            self._add(block)
            self._add(rest)
            self.free_blocks[small].add(rest)
        block.live, block.requested = True, nbytes
        return block.offset

    def free(self, offset: int) -> None:
        block = self.starts.get(offset)
        if block is None or not block.live:
            raise ValueError(f"no allocated block starts at offset {offset}")
        block.live, block.requested = False, 0
        free = self.free_blocks[block.small]
        after = self.starts.get(block.end)
        if after is not None and not after.live and after.segment == block.segment:
            free.remove(after)
            self._remove(after)
            self._remove(block)
            block.size += after.size
            self._add(block)
        before = self.ends.get(block.offset)
        if before is not None and not before.live and before.segment == block.segment:
            free.remove(before)
            self._remove(before)
            self._remove(block)
            before.size += block.size
            self._add(before)
            block = before
        free.add(block)

    def empty_cache(self) -> int:
        released = 0
        for offset, (length, small) in list(self.segments.items()):
            block = self.starts[offset]
            if not block.live and block.size == length:
                self.free_blocks[small].remove(block)
                self._remove(block)
                del self.segments[offset]
                released += length
        return released

    def stats(self) -> dict[str, float]:
        live = [b for b in self.starts.values() if b.live]
        allocated = sum(b.size for b in live)
        reserved = sum(length for length, _ in self.segments.values())
        largest = max((b.size for b in self.starts.values() if not b.live), default=0)
        free = reserved - allocated
        return {
            "allocated_bytes": allocated,
            "requested_bytes": sum(b.requested for b in live),
            "reserved_bytes": reserved,
            "active_blocks": len(live),
            "segments": len(self.segments),
            "largest_free_block": largest,
            "fragmentation": 1.0 - largest / free if free else 0.0,
        }

    def tensor(self, offset: int, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        block = self.starts.get(offset)
        if block is None or not block.live:
            raise ValueError(f"no allocated block starts at offset {offset}")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > block.requested:
            raise ValueError(f"{nbytes} bytes do not fit in a request of {block.requested}")
        return self.buffer[offset : offset + nbytes].view(dtype).view(tuple(shape))
