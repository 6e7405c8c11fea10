"""Each rule of the prompt on a small case worked by hand (offsets and stats written out)."""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol
from oracle import KIB, MIB, check_stat, check_stat_types, mib


def expect(alloc: Any, what: str, **want: float) -> None:
    """The stats named in `want` have these values (and all have the right keys and types)."""
    got = alloc.stats()
    check_stat_types(got, what)
    for key, value in want.items():
        check_stat(got, key, value, what)


def malloc(alloc: Any, nbytes: int, want: int, why: str) -> int:
    got = alloc.malloc(nbytes)
    assert got == want, (
        f"malloc({nbytes}) [{mib(nbytes)}] should return offset {want} [{mib(want)}]: {why}; "
        f"got {got}" + (f" [{mib(got)}]" if isinstance(got, int) else "")
    )
    return got


def test_the_prompt_example() -> None:
    a = sol.CachingAllocator(64 * MIB)
    malloc(a, 1000, 0, "a new 2 MiB small segment at 0")
    malloc(a, 3 * MIB, 2 * MIB, "a new 20 MiB segment after the small one")
    malloc(a, 19 * MIB, 22 * MIB, "a segment of its own (>= 10 MiB)")
    expect(a, "after malloc(19 MiB)", allocated_bytes=1024 + 3 * MIB + 20 * MIB)
    a.free(2 * MIB)
    released = a.empty_cache()
    assert released == 20 * MIB, (
        f"empty_cache() must release the wholly free 20 MiB segment at 2 MiB and return "
        f"{20 * MIB}, got {released}"
    )
    malloc(a, MIB, 1024, "exactly 1 MiB is small; the best fit is the rest of the small segment")
    expect(
        a,
        "at the end of the prompt's example",
        allocated_bytes=1024 + MIB + 20 * MIB,
        requested_bytes=1000 + MIB + 19 * MIB,
        reserved_bytes=22 * MIB,
        active_blocks=3,
        segments=2,
        largest_free_block=MIB - 1024,
        fragmentation=0.0,
    )


def test_a_new_allocator_reports_zeros() -> None:
    expect(
        sol.CachingAllocator(4 * MIB),
        "a new allocator",
        allocated_bytes=0,
        requested_bytes=0,
        reserved_bytes=0,
        active_blocks=0,
        segments=0,
        largest_free_block=0,
        fragmentation=0.0,
    )


def test_sizes_round_up_to_multiples_of_512() -> None:
    a = sol.CachingAllocator(8 * MIB)
    malloc(a, 1, 0, "1 byte takes a 512-byte block")
    malloc(a, 513, 512, "the block before is 512 bytes")
    malloc(a, 512, 1536, "513 bytes round up to 1024")
    expect(
        a,
        "after malloc(1), malloc(513), malloc(512)",
        allocated_bytes=512 + 1024 + 512,
        requested_bytes=1 + 513 + 512,
        largest_free_block=2 * MIB - 2048,
    )


def test_a_request_of_exactly_1_mib_is_small_and_one_byte_more_is_large() -> None:
    a = sol.CachingAllocator(64 * MIB)
    malloc(a, MIB, 0, "1 MiB is the largest small request: a 2 MiB segment")
    expect(a, "after malloc(1 MiB)", reserved_bytes=2 * MIB, segments=1)
    malloc(a, MIB, MIB, "the other half of the small segment fits exactly")
    expect(a, "after two 1 MiB requests", reserved_bytes=2 * MIB, largest_free_block=0)
    malloc(a, MIB + 1, 2 * MIB, "1 MiB + 1 rounds to 1 MiB + 512: large, a new 20 MiB segment")
    expect(
        a,
        "after malloc(1 MiB + 1)",
        reserved_bytes=22 * MIB,
        segments=2,
        allocated_bytes=3 * MIB + 512,
        largest_free_block=19 * MIB - 512,
    )


def test_segment_sizes_for_large_requests() -> None:
    a = sol.CachingAllocator(128 * MIB)
    malloc(a, 10 * MIB, 0, "10 MiB gets a segment of its own, exactly 10 MiB")
    expect(a, "after malloc(10 MiB)", reserved_bytes=10 * MIB, largest_free_block=0)
    malloc(a, 10 * MIB - 512, 10 * MIB, "under 10 MiB: a 20 MiB segment after the first")
    expect(a, "after malloc(10 MiB - 512)", reserved_bytes=30 * MIB)
    malloc(a, 11 * MIB + 1, 30 * MIB, "no free block fits: a segment of 12 MiB (rounded to 2 MiB)")
    expect(
        a,
        "after malloc(11 MiB + 1)",
        reserved_bytes=42 * MIB,
        segments=3,
        allocated_bytes=10 * MIB + (10 * MIB - 512) + 12 * MIB,  # 1 MiB - 512 left: unsplit
        largest_free_block=10 * MIB + 512,
    )


def test_the_large_pool_splits_only_remainders_over_1_mib() -> None:
    a = sol.CachingAllocator(64 * MIB)
    malloc(a, 19 * MIB, 0, "a 20 MiB segment of its own")
    expect(
        a,
        "after malloc(19 MiB): 1 MiB left is not more than 1 MiB, so not split",
        allocated_bytes=20 * MIB,
        requested_bytes=19 * MIB,
        largest_free_block=0,
        fragmentation=0.0,
    )
    malloc(a, 19 * MIB - 512, 20 * MIB, "a second 20 MiB segment")
    expect(
        a,
        "after malloc(19 MiB - 512): 1 MiB + 512 left is split off",
        allocated_bytes=20 * MIB + 19 * MIB - 512,
        largest_free_block=MIB + 512,
    )
    a.free(0)
    malloc(
        a,
        MIB + 1,
        39 * MIB - 512,
        "best fit: the 1 MiB + 512 remainder, not the free 20 MiB block at 0",
    )


def test_the_small_pool_splits_remainders_of_512_bytes() -> None:
    a = sol.CachingAllocator(8 * MIB)
    malloc(a, MIB, 0, "a new small segment")
    expect(a, "after malloc(1 MiB): the other 1 MiB is split off", allocated_bytes=MIB)
    malloc(a, MIB - 512, MIB, "the free second half")
    expect(
        a,
        "after malloc(1 MiB - 512): the last 512 bytes are split off",
        allocated_bytes=2 * MIB - 512,
        largest_free_block=512,
    )
    malloc(a, 1, 2 * MIB - 512, "the 512-byte remainder")
    expect(a, "after malloc(1)", reserved_bytes=2 * MIB, segments=1, largest_free_block=0)


def test_best_fit_takes_the_smallest_free_block_that_fits() -> None:
    a = sol.CachingAllocator(8 * MIB)
    for n, at in [(8 * KIB, 0), (KIB, 8 * KIB), (4 * KIB, 9 * KIB), (KIB, 13 * KIB)]:
        malloc(a, n, at, "blocks laid out one after another")
    a.free(0)  # free: 8 KiB at 0, 4 KiB at 9 KiB, and the rest of the segment
    a.free(9 * KIB)
    malloc(a, 4 * KIB, 9 * KIB, "the 4 KiB block fits exactly; the 8 KiB one comes first")
    malloc(a, 6 * KIB, 0, "the 8 KiB block is smaller than the rest of the segment")
    expect(a, "after both", largest_free_block=2 * MIB - 14 * KIB)


def test_equal_free_blocks_are_taken_lowest_offset_first() -> None:
    a = sol.CachingAllocator(8 * MIB)
    for n, at in [(4 * KIB, 0), (KIB, 4 * KIB), (4 * KIB, 5 * KIB), (KIB, 9 * KIB)]:
        malloc(a, n, at, "blocks laid out one after another")
    a.free(5 * KIB)  # the higher one is freed first
    a.free(0)
    malloc(a, 2 * KIB, 0, "two free 4 KiB blocks tie: the lower offset wins")
    malloc(a, 2 * KIB, 2 * KIB, "the 2 KiB left at 2 KiB is now the best fit")
    malloc(a, 4 * KIB, 5 * KIB, "the other 4 KiB block")


def test_a_freed_block_merges_with_free_neighbours_on_both_sides() -> None:
    a = sol.CachingAllocator(8 * MIB)
    for at in (0, KIB, 2 * KIB):
        malloc(a, KIB, at, "1 KiB blocks one after another")
    a.free(0)
    a.free(2 * KIB)  # merges with the rest of the segment after it
    expect(
        a,
        "with 1 KiB free at 0 and the segment free from 2 KiB",
        largest_free_block=2 * MIB - 2 * KIB,
        fragmentation=1 - (2 * MIB - 2 * KIB) / (2 * MIB - KIB),
    )
    a.free(KIB)
    expect(
        a,
        "after freeing the middle block: one free block, the whole segment",
        largest_free_block=2 * MIB,
        fragmentation=0.0,
        active_blocks=0,
    )
    assert a.empty_cache() == 2 * MIB, "the segment is wholly free again: empty_cache frees it"
    expect(a, "after empty_cache", reserved_bytes=0, segments=0, largest_free_block=0)


def test_free_blocks_of_adjacent_segments_never_merge() -> None:
    a = sol.CachingAllocator(8 * MIB)
    malloc(a, MIB, 0, "a small segment at 0")
    malloc(a, MIB, MIB, "it is full")
    malloc(a, MIB, 2 * MIB, "a second small segment, right after the first")
    a.free(MIB)  # the last 1 MiB of the first segment
    a.free(2 * MIB)  # all of the second: adjacent in the buffer, another segment
    expect(
        a,
        "with 1 MiB free at the end of one segment and the next segment wholly free",
        largest_free_block=2 * MIB,
        fragmentation=1 - 2 / 3,
    )
    assert a.empty_cache() == 2 * MIB, "empty_cache must release exactly the second segment"
    expect(a, "after empty_cache", reserved_bytes=2 * MIB, segments=1, largest_free_block=MIB)
    malloc(a, MIB, MIB, "the free 1 MiB in the first segment")


def test_empty_cache_releases_only_wholly_free_segments() -> None:
    a = sol.CachingAllocator(64 * MIB)
    malloc(a, 4 * MIB, 0, "a 20 MiB segment at 0")
    malloc(a, 4 * MIB, 4 * MIB, "the same segment")
    malloc(a, KIB, 20 * MIB, "a small segment after it")
    a.free(0)  # the large segment's first block is free, the second is live
    a.free(20 * MIB)  # the small segment is wholly free
    assert a.empty_cache() == 2 * MIB, (
        "only the small segment is wholly free: empty_cache must release 2 MiB"
    )
    expect(a, "after empty_cache", reserved_bytes=20 * MIB, segments=1, active_blocks=1)
    assert a.empty_cache() == 0, "a second empty_cache has nothing to release"
    malloc(a, 4 * MIB, 0, "the live block's segment was kept: its free first block")


def test_a_new_segment_goes_to_the_lowest_gap_that_fits() -> None:
    a = sol.CachingAllocator(64 * MIB)
    malloc(a, KIB, 0, "a small segment at 0")
    malloc(a, 10 * MIB, 2 * MIB, "a 10 MiB segment after it")
    a.free(0)
    a.empty_cache()  # leaves a 2 MiB gap at 0
    malloc(a, MIB + 1, 12 * MIB, "a 20 MiB segment does not fit in the 2 MiB gap")
    malloc(a, KIB, 0, "a 2 MiB small segment fits the gap at 0 exactly")
    expect(a, "at the end", reserved_bytes=32 * MIB, segments=3)


def test_out_of_room_empties_the_cache_and_retries_once() -> None:
    a = sol.CachingAllocator(20 * MIB)
    a.free(malloc(a, KIB, 0, "a small segment at 0"))  # cached, wholly free
    malloc(
        a,
        MIB + 1,
        0,
        "a 20 MiB segment fits only once the cached small segment is released",
    )
    expect(a, "after the retry", reserved_bytes=20 * MIB, segments=1, active_blocks=1)


def test_out_of_memory_when_nothing_can_be_released() -> None:
    a = sol.CachingAllocator(20 * MIB)
    malloc(a, MIB + 1, 0, "a 20 MiB segment fills the buffer")
    with pytest.raises(sol.OutOfMemory):
        a.malloc(KIB)
    expect(
        a,
        "after a failed malloc",
        allocated_bytes=MIB + 512,
        reserved_bytes=20 * MIB,
        segments=1,
        active_blocks=1,
    )


def test_a_failed_malloc_leaves_the_cache_emptied() -> None:
    a = sol.CachingAllocator(21 * MIB)
    a.free(malloc(a, KIB, 0, "a small segment at 0"))
    with pytest.raises(sol.OutOfMemory):
        a.malloc(22 * MIB)
    expect(
        a,
        "after malloc(22 MiB) failed in a 21 MiB buffer",
        reserved_bytes=0,
        segments=0,
        largest_free_block=0,
    )
    malloc(a, 20 * MIB, 0, "the whole buffer is free")


def test_free_of_anything_but_an_allocated_block_raises_value_error() -> None:
    a = sol.CachingAllocator(8 * MIB)
    malloc(a, 4 * KIB, 0, "a small segment at 0")
    for offset, why in [
        (1, "not a block"),
        (512, "inside the allocated block"),
        (4 * KIB, "the free rest of the segment"),
        (2 * MIB, "outside every segment"),
    ]:
        with pytest.raises(ValueError):
            a.free(offset)
            pytest.fail(f"free({offset}) ({why}) must raise ValueError")
    a.free(0)
    with pytest.raises(ValueError):
        a.free(0)
        pytest.fail("freeing a block twice must raise ValueError")
    expect(
        a,
        "after one good free and five bad ones",
        allocated_bytes=0,
        active_blocks=0,
        largest_free_block=2 * MIB,
    )


@pytest.mark.parametrize("nbytes", [0, -512])
def test_malloc_of_less_than_one_byte_raises_value_error(nbytes: int) -> None:
    a = sol.CachingAllocator(8 * MIB)
    with pytest.raises(ValueError):
        a.malloc(nbytes)
        pytest.fail(f"malloc({nbytes}) must raise ValueError")
    expect(a, f"after malloc({nbytes}) failed", reserved_bytes=0, active_blocks=0)


def test_a_capacity_below_one_byte_raises_value_error() -> None:
    with pytest.raises(ValueError):
        sol.CachingAllocator(0)
        pytest.fail("CachingAllocator(0) must raise ValueError")
