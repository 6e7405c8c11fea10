"""A caching allocator for tensors over one preallocated byte buffer, with the rules of
PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp).

Asking the device for memory (cudaMalloc) is slow and synchronises, so PyTorch asks for
large *segments* and carves *blocks* out of them, keeping freed blocks cached for the
next request instead of returning them. Here the device is one byte buffer: segments
are carved from it, and tensors are typed views of its bytes.

The rules (the constants are PyTorch's):

- A request of n bytes becomes a block of `round_size(n)`: n rounded up to a multiple
  of 512 (`kMinBlockSize`), so every block, and every offset, is 512-aligned.
- Blocks of at most 1 MiB (`kSmallSize`) live in the *small pool*, larger ones in the
  *large pool*; a block never moves between pools.
- A request takes the *best fit*: the smallest free block of its pool that is large
  enough, the lowest offset among equal sizes (PyTorch's free sets order blocks by
  (size, address) and take `lower_bound`).
- When no free block fits, a new segment is carved: 2 MiB (`kSmallBuffer`) for the
  small pool; 20 MiB (`kLargeBuffer`) for requests under 10 MiB (`kMinLargeAlloc`);
  the request rounded up to a multiple of 2 MiB (`kRoundLarge`) above that. A segment
  goes at the lowest offset of the buffer where it fits between the segments already
  there. If none fits, the cache is emptied (every wholly free segment released) and
  the carving is tried once more; then `OutOfMemory`.
- The block found is split when what is left over is worth keeping (`should_split`):
  at least 512 bytes in the small pool, more than 1 MiB in the large pool. The request
  takes the lower addresses, the remainder stays free in the same pool. Unsplit, the
  request holds the whole block (its bytes count as allocated).
- A freed block merges with a free neighbour on either side *in the same segment*:
  segments are separate device allocations, so two that happen to be adjacent in
  the buffer are never merged.
- `empty_cache` releases every segment that is one free block.

Worked example, a buffer of 64 MiB (M = MiB):

    malloc(1000)      -> 0       1024 bytes, small pool. No free block: a 2 M segment at 0,
                                 split into [0, 1024) and a free [1024, 2 M)
    malloc(3 M)       -> 2 M     large pool: a 20 M segment at 2 M, split 3 M + 17 M free
    malloc(19 M)      -> 22 M    19 M >= 10 M: a segment of 20 M (19 M rounded up to 2 M)
                                 at 22 M; the 1 M left is not more than 1 M, so the block
                                 is not split and holds all 20 M
    free(2 M)                    the 3 M block merges with the free 17 M after it
    empty_cache()     -> 20 M    the segment at 2 M is one free block: released
    malloc(1 M)       -> 1024    exactly 1 M is still small: best fit is [1024, 2 M)
    stats()                      allocated 1024 + 1 M + 20 M, reserved 2 M + 20 M,
                                 free 1 M - 1024 in one block: fragmentation 0.0

Statistics: allocated bytes (the sizes of the blocks in use), requested bytes (what
was asked), reserved bytes (the segments), active blocks, segments, the largest free
block, and fragmentation `1 - largest free block / free bytes`, where the free bytes
are reserved minus allocated (0.0 when nothing is free): 0 when all cached memory is
one block, near 1 when it is scattered in pieces too small for a large request.

Free blocks sit in one list per pool sorted by (size, offset), so a best fit is a
binary search; blocks link to their neighbours in the segment (as PyTorch's do), so
merging is O(1) apart from the list updates.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

MIB = 1 << 20
MIN_BLOCK = 512  # kMinBlockSize: every size rounds up to a multiple of this
SMALL_SIZE = 1 * MIB  # kSmallSize: blocks up to this size use the small pool
SMALL_SEGMENT = 2 * MIB  # kSmallBuffer
LARGE_SEGMENT = 20 * MIB  # kLargeBuffer: for large requests under MIN_LARGE_ALLOC
MIN_LARGE_ALLOC = 10 * MIB  # kMinLargeAlloc: from here on, a segment per request
ROUND_LARGE = 2 * MIB  # kRoundLarge: those segments round up to this


class OutOfMemory(RuntimeError):
    """No free block fits and no segment fits in the buffer, even after empty_cache."""


def round_size(nbytes: int) -> int:
    """The block size for a request: a multiple of 512, at least 512."""
    return MIN_BLOCK * math.ceil(nbytes / MIN_BLOCK)


def is_small(size: int) -> bool:
    """Whether a (rounded) size belongs to the small pool."""
    return size <= SMALL_SIZE


def segment_size(size: int) -> int:
    """The size of the segment carved for a (rounded) request no free block fits."""
    if is_small(size):
        return SMALL_SEGMENT
    if size < MIN_LARGE_ALLOC:
        return LARGE_SEGMENT
    return ROUND_LARGE * math.ceil(size / ROUND_LARGE)


def should_split(small: bool, remainder: int) -> bool:
    """Whether the rest of a block is split off: any usable piece in the small pool;
    in the large pool only a piece too big for the small pool, since smaller ones
    could only ever serve large requests badly."""
    return remainder >= MIN_BLOCK if small else remainder > SMALL_SIZE


@dataclass(eq=False)
class Segment:
    offset: int
    size: int
    small: bool


@dataclass(eq=False)
class Block:
    offset: int
    size: int
    segment: Segment
    requested: int = 0  # bytes asked for; 0 while free
    allocated: bool = False
    prev: Block | None = None  # the neighbours in the same segment, by address
    next: Block | None = None


class FreeList:
    """The free blocks of one pool, sorted by (size, offset): the best fit for a size is
    the first entry at or after (size, -1)."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []
        self.blocks: dict[tuple[int, int], Block] = {}

    def add(self, block: Block) -> None:
        key = (block.size, block.offset)
        bisect.insort(self.keys, key)
        self.blocks[key] = block

    def remove(self, block: Block) -> None:
        key = (block.size, block.offset)
        del self.keys[bisect.bisect_left(self.keys, key)]
        del self.blocks[key]

    def best_fit(self, size: int) -> Block | None:
        i = bisect.bisect_left(self.keys, (size, -1))
        return self.blocks[self.keys[i]] if i < len(self.keys) else None

    def largest(self) -> int:
        return self.keys[-1][0] if self.keys else 0


class CachingAllocator:
    """Blocks of a uint8 buffer of `capacity_bytes` (contents as left by its users), by offset."""

    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes < 1:
            raise ValueError(f"capacity must be positive, got {capacity_bytes}")
        self.capacity = capacity_bytes
        self.buffer = torch.empty(capacity_bytes, dtype=torch.uint8)
        self.segments: list[Segment] = []  # sorted by offset
        self.pools = {True: FreeList(), False: FreeList()}  # small?, free blocks
        self.live: dict[int, Block] = {}  # offset -> allocated block
        self.allocated = self.requested = self.reserved = 0

    def malloc(self, nbytes: int) -> int:
        """Allocate `nbytes` (at least 1); returns the block's offset in the buffer."""
        if nbytes < 1:
            raise ValueError(f"a request must be at least 1 byte, got {nbytes}")
        size = round_size(nbytes)
        pool = self.pools[is_small(size)]
        block = pool.best_fit(size)
        if block is None:
            block = self._new_segment(size)
        else:
            pool.remove(block)
        remainder = block.size - size
        if should_split(block.segment.small, remainder):
            rest = Block(block.offset + size, remainder, block.segment, prev=block, next=block.next)
            if block.next is not None:
                block.next.prev = rest
            block.next, block.size = rest, size
            pool.add(rest)
        block.allocated, block.requested = True, nbytes
        self.live[block.offset] = block
        self.allocated += block.size
        self.requested += nbytes
        return block.offset

    def free(self, offset: int) -> None:
        """Return the block at `offset` to its pool, merged with free neighbours."""
        block = self.live.pop(offset, None)
        if block is None:
            raise ValueError(f"no allocated block starts at offset {offset}")
        self.allocated -= block.size
        self.requested -= block.requested
        block.allocated, block.requested = False, 0
        pool = self.pools[block.segment.small]
        for neighbour in (block.prev, block.next):
            if neighbour is not None and not neighbour.allocated:
                pool.remove(neighbour)
                block = self._merge(block, neighbour)
        pool.add(block)

    def empty_cache(self) -> int:
        """Release every segment that is one free block; returns the bytes released."""
        released = 0
        for segment in list(self.segments):
            pool = self.pools[segment.small]
            key = (segment.size, segment.offset)
            if key in pool.blocks:  # a free block as large as the segment is all of it
                pool.remove(pool.blocks[key])
                self.segments.remove(segment)
                self.reserved -= segment.size
                released += segment.size
        return released

    def stats(self) -> dict[str, float]:
        largest = max(self.pools[True].largest(), self.pools[False].largest())
        free = self.reserved - self.allocated
        return {
            "allocated_bytes": self.allocated,
            "requested_bytes": self.requested,
            "reserved_bytes": self.reserved,
            "active_blocks": len(self.live),
            "segments": len(self.segments),
            "largest_free_block": largest,
            "fragmentation": 1.0 - largest / free if free else 0.0,
        }

    def tensor(self, offset: int, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        """A `dtype` view of shape `shape` over the bytes of the live block at `offset`."""
        block = self.live.get(offset)
        if block is None:
            raise ValueError(f"no allocated block starts at offset {offset}")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > block.requested:
            raise ValueError(f"{nbytes} bytes do not fit in a request of {block.requested}")
        return self.buffer[offset : offset + nbytes].view(dtype).view(tuple(shape))

    def _new_segment(self, size: int) -> Block:
        """A segment for a request of `size`, as one free block (not in any free list)."""
        length = segment_size(size)
        offset = self._place(length)
        if offset is None:
            self.empty_cache()  # as PyTorch does when cudaMalloc fails, then retries once
            offset = self._place(length)
        if offset is None:
            raise OutOfMemory(
                f"no room for a segment of {length} bytes in a buffer of {self.capacity} "
                f"({self.reserved} reserved, {self.allocated} allocated)"
            )
        segment = Segment(offset, length, is_small(size))
        bisect.insort(self.segments, segment, key=lambda s: s.offset)
        self.reserved += length
        return Block(offset, length, segment)

    def _place(self, length: int) -> int | None:
        """The lowest offset where `length` bytes fit between the segments (first fit)."""
        start = 0
        for segment in self.segments:
            if segment.offset - start >= length:
                return start
            start = segment.offset + segment.size
        return start if self.capacity - start >= length else None

    def _merge(self, block: Block, neighbour: Block) -> Block:
        """One free block out of two adjacent ones of the same segment."""
        low, high = (neighbour, block) if neighbour.offset < block.offset else (block, neighbour)
        low.size += high.size
        low.next = high.next
        if high.next is not None:
            high.next.prev = low
        return low
