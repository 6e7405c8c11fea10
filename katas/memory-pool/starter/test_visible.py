"""A few examples from the prompt. Run with `drill test`."""

from __future__ import annotations

import pytest
import torch
from solution import CachingAllocator, OutOfMemory

M = 1 << 20


def test_the_prompt_example() -> None:
    a = CachingAllocator(64 * M)
    assert a.malloc(1000) == 0  # a 2 M small segment at 0
    assert a.malloc(3 * M) == 2 * M  # a 20 M segment after it
    assert a.malloc(19 * M) == 22 * M  # its own 20 M segment, not split
    a.free(2 * M)
    assert a.empty_cache() == 20 * M
    assert a.malloc(M) == 1024  # exactly 1 M is small
    assert a.stats() == {
        "allocated_bytes": 1024 + M + 20 * M,
        "requested_bytes": 1000 + M + 19 * M,
        "reserved_bytes": 22 * M,
        "active_blocks": 3,
        "segments": 2,
        "largest_free_block": M - 1024,
        "fragmentation": 0.0,
    }


def test_best_fit_breaks_ties_by_lowest_offset() -> None:
    a = CachingAllocator(8 * M)
    assert [a.malloc(n) for n in (4096, 1024, 4096, 1024)] == [0, 4096, 5120, 9216]
    a.free(5120)
    a.free(0)
    assert a.malloc(2048) == 0
    assert a.malloc(2048) == 2048


def test_free_blocks_of_adjacent_segments_do_not_merge() -> None:
    a = CachingAllocator(8 * M)
    assert [a.malloc(M) for _ in range(3)] == [0, M, 2 * M]
    a.free(M)
    a.free(2 * M)
    stats = a.stats()
    assert stats["largest_free_block"] == 2 * M
    assert stats["fragmentation"] == pytest.approx(1 - 2 / 3)
    assert a.empty_cache() == 2 * M


def test_coalescing_lets_a_large_request_reuse_freed_blocks() -> None:
    a = CachingAllocator(28 * M)
    blocks = [a.malloc(2 * M) for _ in range(10)]
    assert blocks == [2 * M * i for i in range(10)]
    for b in blocks[:9]:
        a.free(b)
    assert a.malloc(16 * M) == 0


def test_out_of_memory_after_empty_cache_finds_nothing() -> None:
    a = CachingAllocator(20 * M)
    a.malloc(M + 1)  # a 20 M segment fills the buffer
    with pytest.raises(OutOfMemory):
        a.malloc(1024)


def test_tensor_is_a_view_of_the_buffer() -> None:
    a = CachingAllocator(4 * M)
    offset = a.malloc(4 * 32)
    t = a.tensor(offset, (4, 8), torch.float32)
    t.fill_(1.5)
    assert torch.equal(a.buffer[offset : offset + 4].view(torch.float32), torch.tensor([1.5]))
