"""reference.memory_pool against PyTorch's CUDA caching allocator, a slow model and
hand-worked cases.

Oracles:
- PyTorch's own allocator (on a machine with CUDA): the same requests through
  `torch.cuda.caching_allocator_alloc` / `caching_allocator_delete`, and every segment's
  layout (its size, pool, and its blocks' sizes and states in address order) read from
  `CUDA.memory_snapshot()`, must equal the reference's. Device addresses differ
  from buffer offsets, so segments are compared as a multiset of layouts, and each
  request by its offset inside its segment.
- `SlowPool`: segments as lists of blocks in address order, every rule a scan or a
  re-merge of a list; it predicts every offset, OutOfMemory and statistic.
- Invariants after every step: a segment's blocks tile it exactly, no two free blocks
  are neighbours inside a segment, segments do not overlap and stay in the buffer.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.memory_pool import (
    MIB,
    Block,
    CachingAllocator,
    OutOfMemory,
    round_size,
    segment_size,
    should_split,
)

KIB = 1 << 10


@dataclass
class SlowSegment:
    offset: int
    size: int
    small: bool
    blocks: list[list[int]] = field(default_factory=list)  # [offset, size, requested or -1]


class SlowPool:
    """The rules as literally as they read: scans and list rebuilds, nothing indexed."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.segments: list[SlowSegment] = []

    def malloc(self, nbytes: int) -> int:
        size = -(-nbytes // 512) * 512
        small = size <= MIB
        fits = sorted(
            (b[1], b[0], s.offset)
            for s in self.segments
            if s.small == small
            for b in s.blocks
            if b[2] < 0 and b[1] >= size
        )
        if fits:
            _, at, seg_at = fits[0]
            seg = next(s for s in self.segments if s.offset == seg_at)
        else:
            length = (
                2 * MIB
                if small
                else 20 * MIB
                if size < 10 * MIB
                else -(-size // (2 * MIB)) * 2 * MIB
            )
            start = self._gap(length)
            if start is None:
                self.empty_cache()
                start = self._gap(length)
            if start is None:
                raise OutOfMemory
            seg = SlowSegment(start, length, small, [[start, length, -1]])
            self.segments = sorted([*self.segments, seg], key=lambda s: s.offset)
            at = start
        i = next(k for k, b in enumerate(seg.blocks) if b[0] == at)
        rest = seg.blocks[i][1] - size
        if rest >= 512 if small else rest > MIB:
            seg.blocks[i : i + 1] = [[at, size, nbytes], [at + size, rest, -1]]
        else:
            seg.blocks[i][2] = nbytes
        return at

    def _gap(self, length: int) -> int | None:
        edges = [(0, 0)] + [(s.offset, s.offset + s.size) for s in self.segments]
        edges.append((self.capacity, self.capacity))
        for (_, end), (start, _) in itertools.pairwise(edges):
            if start - end >= length:
                return end
        return None

    def free(self, offset: int) -> None:
        seg = next(s for s in self.segments for b in s.blocks if b[0] == offset and b[2] >= 0)
        merged: list[list[int]] = []
        for b in seg.blocks:
            b = [b[0], b[1], -1 if b[0] == offset else b[2]]
            if merged and merged[-1][2] < 0 and b[2] < 0:
                merged[-1][1] += b[1]
            else:
                merged.append(b)
        seg.blocks = merged

    def empty_cache(self) -> int:
        keep = [s for s in self.segments if any(b[2] >= 0 for b in s.blocks)]
        released = sum(s.size for s in self.segments) - sum(s.size for s in keep)
        self.segments = keep
        return released

    def stats(self) -> dict[str, float]:
        blocks = [b for s in self.segments for b in s.blocks]
        live = [b for b in blocks if b[2] >= 0]
        reserved = sum(s.size for s in self.segments)
        allocated = sum(b[1] for b in live)
        largest = max((b[1] for b in blocks if b[2] < 0), default=0)
        free = reserved - allocated
        return {
            "allocated_bytes": allocated,
            "requested_bytes": sum(b[2] for b in live),
            "reserved_bytes": reserved,
            "active_blocks": len(live),
            "segments": len(self.segments),
            "largest_free_block": largest,
            "fragmentation": 1.0 - largest / free if free else 0.0,
        }


Layout = tuple[int, bool, tuple[tuple[int, bool], ...]]

# torch.cuda's allocator functions carry no annotations.
CUDA: Any = torch.cuda


def layouts(a: CachingAllocator) -> list[Layout]:
    """Every segment as (size, small, ((block size, allocated), ...) in address order)."""
    every = [*a.live.values(), *(b for pool in a.pools.values() for b in pool.blocks.values())]
    out: list[Layout] = []
    for segment in a.segments:
        blocks = []
        block: Block | None = next(b for b in every if b.segment is segment and b.prev is None)
        while block is not None:
            blocks.append((block.size, block.allocated))
            block = block.next
        out.append((segment.size, segment.small, tuple(blocks)))
    return out


def check_invariants(a: CachingAllocator) -> None:
    end = 0
    for segment in a.segments:
        assert segment.offset >= end and segment.offset % 512 == 0
        end = segment.offset + segment.size
        assert end <= a.capacity
    for size, _, blocks in layouts(a):
        assert sum(s for s, _ in blocks) == size  # the blocks tile the segment
        for (_, live_a), (_, live_b) in itertools.pairwise(blocks):
            assert live_a or live_b  # two free neighbours would have merged
    free_keys = [k for pool in a.pools.values() for k in pool.keys]
    assert len(free_keys) == sum(1 for _, _, bs in layouts(a) for _, live in bs if not live)


def test_the_docstring_example() -> None:
    a = CachingAllocator(64 * MIB)
    assert a.malloc(1000) == 0
    assert a.malloc(3 * MIB) == 2 * MIB
    assert a.malloc(19 * MIB) == 22 * MIB
    assert layouts(a)[2] == (20 * MIB, False, ((20 * MIB, True),))  # not split
    a.free(2 * MIB)
    assert a.empty_cache() == 20 * MIB
    assert a.malloc(MIB) == 1024
    assert a.stats() == {
        "allocated_bytes": 1024 + MIB + 20 * MIB,
        "requested_bytes": 1000 + MIB + 19 * MIB,
        "reserved_bytes": 22 * MIB,
        "active_blocks": 3,
        "segments": 2,
        "largest_free_block": MIB - 1024,
        "fragmentation": 0.0,
    }
    check_invariants(a)


def test_the_constants_at_each_boundary() -> None:
    assert [round_size(n) for n in (1, 511, 512, 513, 1000)] == [512, 512, 512, 1024, 1024]
    assert segment_size(MIB) == 2 * MIB and segment_size(MIB + 512) == 20 * MIB
    assert segment_size(10 * MIB - 512) == 20 * MIB and segment_size(10 * MIB) == 10 * MIB
    assert segment_size(11 * MIB + 512) == 12 * MIB
    assert should_split(True, 512) and not should_split(True, 0)
    assert not should_split(False, MIB) and should_split(False, MIB + 512)


def test_blocks_of_touching_segments_never_merge() -> None:
    a = CachingAllocator(8 * MIB)
    assert [a.malloc(MIB) for _ in range(3)] == [0, MIB, 2 * MIB]
    a.free(MIB)
    a.free(2 * MIB)
    assert a.stats()["largest_free_block"] == 2 * MIB
    assert a.empty_cache() == 2 * MIB
    check_invariants(a)


def test_out_of_room_releases_the_cache_then_raises() -> None:
    a = CachingAllocator(21 * MIB)
    a.free(a.malloc(KIB))
    with pytest.raises(OutOfMemory):
        a.malloc(22 * MIB)
    assert a.stats()["reserved_bytes"] == 0  # the retry emptied the cache
    assert a.malloc(20 * MIB) == 0


def test_free_of_anything_but_an_allocated_block_raises() -> None:
    a = CachingAllocator(8 * MIB)
    a.malloc(4 * KIB)
    for offset in (1, 512, 4 * KIB, 2 * MIB):
        with pytest.raises(ValueError):
            a.free(offset)
    a.free(0)
    with pytest.raises(ValueError):
        a.free(0)


def test_tensors_are_views_of_the_buffer() -> None:
    a = CachingAllocator(4 * MIB)
    offsets = [a.malloc(n) for n in (100, 4000, 64)]
    t = a.tensor(offsets[1], (10, 100), torch.float32)
    assert t.untyped_storage().data_ptr() == a.buffer.untyped_storage().data_ptr()
    assert t.data_ptr() == a.buffer.data_ptr() + offsets[1]
    t.fill_(2.5)
    assert torch.equal(a.buffer[offsets[1] : offsets[1] + 4000].view(torch.float32), t.flatten())
    with pytest.raises(ValueError):
        a.tensor(offsets[2], (17,), torch.float32)  # 68 bytes of a 64-byte request


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([24 * MIB, 50 * MIB + 512]),
    st.lists(
        st.tuples(
            st.sampled_from(["malloc"] * 5 + ["free"] * 4 + ["empty_cache"]),
            st.one_of(
                st.integers(1, 64 * KIB),
                st.integers(MIB - 1024, MIB + 1024),
                st.integers(MIB, 24 * MIB),
            ),
        ),
        max_size=40,
    ),
)
def test_random_traces_match_the_slow_pool(capacity: int, ops: list[tuple[str, int]]) -> None:
    a, slow = CachingAllocator(capacity), SlowPool(capacity)
    live: list[int] = []
    for op, n in ops:
        if op == "malloc":
            try:
                want = slow.malloc(n)
            except OutOfMemory:
                with pytest.raises(OutOfMemory):
                    a.malloc(n)
            else:
                assert a.malloc(n) == want
                live.append(want)
        elif op == "free" and live:
            offset = live.pop(n % len(live))
            slow.free(offset)
            a.free(offset)
        elif op == "empty_cache":
            assert a.empty_cache() == slow.empty_cache()
        assert a.stats() == slow.stats()
        check_invariants(a)


def peer_layouts() -> list[Layout]:
    out = []
    for seg in CUDA.memory_snapshot():
        blocks = tuple((b["size"], b["state"] == "active_allocated") for b in seg["blocks"])
        out.append((seg["total_size"], seg["segment_type"] == "small", blocks))
    return sorted(out)


def peer_segment_of(ptr: int) -> tuple[int, int]:
    """(offset inside its segment, segment size) of a pointer PyTorch handed out."""
    for seg in CUDA.memory_snapshot():
        if seg["address"] <= ptr < seg["address"] + seg["total_size"]:
            return ptr - seg["address"], seg["total_size"]
    raise AssertionError(f"pointer {ptr} is in no segment")


def our_segment_of(a: CachingAllocator, offset: int) -> tuple[int, int]:
    seg = a.live[offset].segment
    return offset - seg.offset, seg.size


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the peer is PyTorch's CUDA allocator")
@pytest.mark.skipif(
    bool(os.environ.get("PYTORCH_CUDA_ALLOC_CONF") or os.environ.get("PYTORCH_ALLOC_CONF")),
    reason="an allocator configuration changes PyTorch's rules",
)
def test_segments_and_blocks_match_pytorchs_cuda_caching_allocator() -> None:
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    if CUDA.memory_snapshot():
        pytest.skip("tensors of other tests still hold CUDA memory in this process")
    sizes = [1000, 3 * MIB, 19 * MIB, MIB, MIB + 1, 4 * KIB, 10 * MIB, 11 * MIB + 1]
    sizes += [2 * MIB] * 10 + [700 * KIB, 5 * MIB + 3, 513, 19 * MIB - 512]
    ours = CachingAllocator(1 << 30)
    pairs: list[tuple[int, int]] = []  # (our offset, peer pointer)
    try:
        for i, n in enumerate(sizes):
            offset, ptr = ours.malloc(n), CUDA.caching_allocator_alloc(n)
            pairs.append((offset, ptr))
            assert our_segment_of(ours, offset) == peer_segment_of(ptr), f"request {i}: {n}"
            if i % 3 == 2:  # free every third request's predecessor: holes to merge and reuse
                offset, ptr = pairs.pop(-2)
                ours.free(offset)
                CUDA.caching_allocator_delete(ptr)
            assert sorted(layouts(ours)) == peer_layouts(), f"after request {i}: {n}"
        stats = torch.cuda.memory_stats()
        mine = ours.stats()
        assert mine["allocated_bytes"] == stats["allocated_bytes.all.current"]
        assert mine["reserved_bytes"] == stats["reserved_bytes.all.current"]
        assert mine["requested_bytes"] == stats["requested_bytes.all.current"]
        assert mine["active_blocks"] == stats["active.all.current"]
        assert mine["segments"] == stats["segment.all.current"]
        while pairs:
            offset, ptr = pairs.pop()
            ours.free(offset)
            CUDA.caching_allocator_delete(ptr)
        assert sorted(layouts(ours)) == peer_layouts()
        ours.empty_cache()
        torch.cuda.empty_cache()
        assert layouts(ours) == peer_layouts() == []
    finally:  # a failed assertion leaves requests to hand back
        for _, ptr in pairs:
            CUDA.caching_allocator_delete(ptr)
