"""Hand-worked cases: FIFO order, last-block-first return, fork, copy-on-write, errors."""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol
from oracle import drain, snapshot


def test_new_pool_has_every_block_free_with_zero_refs() -> None:
    a = sol.BlockAllocator(5, 4)
    assert a.num_free_blocks() == 5, f"a new pool of 5 blocks has {a.num_free_blocks()} free"
    assert [a.ref_count(b) for b in range(5)] == [0] * 5
    assert drain(a, 0, 4) == [0, 1, 2, 3, 4], "a new free queue must be 0, 1, ..., num_blocks - 1"


def test_allocate_takes_blocks_from_the_head_in_table_order() -> None:
    a = sol.BlockAllocator(6, 2)
    assert a.allocate(1, [7, 7, 7]) == [0, 1], "3 tokens at block_size 2 need blocks [0, 1]"
    assert a.allocate(2, [7, 7, 7, 7]) == [2, 3]
    assert a.block_table(1) == [0, 1]
    assert a.num_free_blocks() == 2
    assert [a.ref_count(b) for b in range(6)] == [1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize(("n_tokens", "n_blocks"), [(1, 1), (4, 1), (5, 2), (8, 2), (9, 3)])
def test_allocate_rounds_up_to_whole_blocks(n_tokens: int, n_blocks: int) -> None:
    a = sol.BlockAllocator(10, 4)
    table = a.allocate(0, list(range(n_tokens)))
    assert len(table) == n_blocks, (
        f"{n_tokens} tokens at block_size 4 need {n_blocks} blocks, got {table}"
    )
    assert a.num_tokens(0) == n_tokens


def test_allocate_with_an_empty_prompt_holds_no_blocks() -> None:
    a = sol.BlockAllocator(3, 2)
    assert a.allocate(0, []) == []
    assert a.num_free_blocks() == 3
    assert a.append(0, [5]) == []
    assert a.block_table(0) == [0], "the first appended token of an empty sequence takes block 0"


def test_append_fills_the_last_block_before_taking_a_new_one() -> None:
    a = sol.BlockAllocator(4, 3)
    a.allocate(0, [1])
    for _ in range(2):
        assert a.append(0, [1]) == []
        assert a.block_table(0) == [0], "block 0 still has a free slot: no new block"
    a.append(0, [1])
    assert a.block_table(0) == [0, 1], "block 0 is full: the fourth token takes block 1"
    assert a.num_tokens(0) == 4


def test_append_of_many_tokens_takes_every_block_it_needs_in_order() -> None:
    a = sol.BlockAllocator(8, 2)
    a.allocate(0, [1])
    assert a.append(0, list(range(6))) == []
    assert a.block_table(0) == [0, 1, 2, 3], "1 + 6 tokens fill block 0, then take 1, 2, 3"
    assert a.num_tokens(0) == 7
    assert a.num_free_blocks() == 4


def test_append_of_no_tokens_changes_nothing() -> None:
    a = sol.BlockAllocator(4, 2)
    a.allocate(0, [1, 2])
    a.fork(0, 1)
    a.allocate(2, [1])
    a.fork(2, 3)
    before = snapshot(a, [0, 1, 2, 3], 4)
    assert a.append(2, []) == [], "appending no tokens copies nothing, even to a shared block"
    assert snapshot(a, [0, 1, 2, 3], 4) == before


def test_freed_blocks_join_the_tail_last_block_first() -> None:
    a = sol.BlockAllocator(6, 2)
    a.allocate(0, [1] * 5)  # [0, 1, 2]
    a.free(0)
    # free queue: 3 4 5 then the freed table walked from its end: 2 1 0
    assert drain(a, 9, 2) == [3, 4, 5, 2, 1, 0], (
        "after freeing [0, 1, 2] the queue must be [3 4 5 2 1 0] (tail, last block first)"
    )


def test_free_queue_is_fifo_so_old_free_blocks_are_reused_before_freed_ones() -> None:
    a = sol.BlockAllocator(6, 1)
    a.allocate(0, [1, 1])  # [0, 1]
    a.allocate(1, [1])  # [2]
    a.free(0)  # queue: 3 4 5 1 0
    a.free(1)  # queue: 3 4 5 1 0 2
    assert a.allocate(2, [1, 1, 1]) == [3, 4, 5], (
        "never-used blocks at the head come before freed ones (FIFO, not LIFO)"
    )
    assert a.allocate(3, [1, 1, 1]) == [1, 0, 2], (
        "freed blocks come back in the order they were freed"
    )


def test_fork_shares_every_block_and_raises_each_ref_count() -> None:
    a = sol.BlockAllocator(5, 2)
    a.allocate(0, [1, 2, 3])  # [0, 1]
    a.fork(0, 1)
    assert a.block_table(1) == [0, 1], "the child starts with the parent's block table"
    assert a.num_tokens(1) == 3, "the child starts with the parent's token count"
    assert (a.ref_count(0), a.ref_count(1)) == (2, 2), "fork must add one reference per block"
    assert a.num_free_blocks() == 3, "fork takes no block"
    a.fork(1, 2)
    assert (a.ref_count(0), a.ref_count(1)) == (3, 3), "a fork of a fork adds one more"


def test_append_to_a_shared_partial_block_copies_it_to_a_block_from_the_head() -> None:
    a = sol.BlockAllocator(6, 2)
    a.allocate(1, [11, 12, 13])  # [0, 1]
    a.fork(1, 2)
    copies = a.append(2, [14])
    assert copies == [(1, 2)], f"seq 2 must copy shared block 1 into block 2, got {copies}"
    assert a.block_table(2) == [0, 2]
    assert a.block_table(1) == [0, 1], "the parent keeps its block"
    assert [a.ref_count(b) for b in range(3)] == [2, 1, 1]
    assert a.num_free_blocks() == 3


def test_copy_on_write_happens_once_then_the_new_block_is_written_in_place() -> None:
    a = sol.BlockAllocator(6, 4)
    a.allocate(0, [1])
    a.fork(0, 1)
    assert a.append(1, [2]) == [(0, 1)]
    assert a.append(1, [3]) == [], "after the copy, seq 1 holds block 1 alone: no second copy"
    assert a.append(0, [2]) == [], "the parent now holds block 0 alone: no copy either"
    assert a.block_table(0) == [0] and a.block_table(1) == [1]


def test_no_copy_when_the_shared_last_block_is_full() -> None:
    a = sol.BlockAllocator(6, 2)
    a.allocate(0, [1, 2, 3, 4])  # [0, 1], both full
    a.fork(0, 1)
    copies = a.append(1, [5])
    assert copies == [], f"a full shared block is not written: no copy expected, got {copies}"
    assert a.block_table(1) == [0, 1, 2]
    assert a.ref_count(1) == 2, "the full shared block stays shared"


def test_no_copy_when_the_sequence_holds_its_last_block_alone() -> None:
    a = sol.BlockAllocator(6, 2)
    a.allocate(0, [1])
    copies = a.append(0, [2])
    assert copies == [], f"ref count 1 means write in place, got copies {copies}"
    a.fork(0, 1)
    a.free(0)
    a.append(1, [3])
    assert a.append(1, [4]) == [], "after the parent is freed the child holds its blocks alone"


def test_copy_is_taken_before_the_new_blocks_of_the_same_append() -> None:
    a = sol.BlockAllocator(8, 2)
    a.allocate(0, [1])  # [0]
    a.fork(0, 1)
    copies = a.append(1, [2, 3, 4, 5])  # 1 token fills the copy, 3 overflow into 2 blocks
    assert copies == [(0, 1)], f"one copy for a shared partial last block, got {copies}"
    assert a.block_table(1) == [1, 2, 3], "the copy takes the head (1) before the new blocks (2, 3)"
    assert a.num_tokens(1) == 5


def test_free_of_a_forked_parent_only_drops_its_references() -> None:
    a = sol.BlockAllocator(5, 2)
    a.allocate(0, [1, 2, 3])  # [0, 1]
    a.fork(0, 1)
    a.free(0)
    assert a.num_free_blocks() == 3, "the child still holds both blocks: nothing is freed"
    assert (a.ref_count(0), a.ref_count(1)) == (1, 1)
    assert a.block_table(1) == [0, 1]
    a.free(1)
    assert a.num_free_blocks() == 5
    assert drain(a, 2, 2) == [2, 3, 4, 1, 0]


def test_free_returns_only_blocks_that_reach_zero_last_block_first() -> None:
    a = sol.BlockAllocator(6, 2)
    a.allocate(0, [1, 2, 3])  # [0, 1], queue 2 3 4 5
    a.fork(0, 1)
    a.append(1, [4])  # child copies 1 -> 2: child [0, 2], queue 3 4 5
    a.append(0, [5, 6])  # parent [0, 1, 3], queue 4 5
    a.free(0)  # 3 -> 0, 1 -> 0, 0 -> 1: queue 4 5 3 1
    assert a.num_free_blocks() == 4
    assert a.ref_count(0) == 1, "block 0 is still held by the child"
    a.free(1)  # 2 -> 0, 0 -> 0: queue 4 5 3 1 2 0
    assert drain(a, 2, 2) == [4, 5, 3, 1, 2, 0], "expected queue [4 5 3 1 2 0], worked by hand"


def test_worked_example_from_the_prompt() -> None:
    a = sol.BlockAllocator(6, 2)
    assert a.allocate(1, [11, 12, 13]) == [0, 1]
    a.fork(1, 2)
    assert a.append(2, [14]) == [(1, 2)]
    assert a.append(1, [15]) == []
    assert a.append(1, [16]) == []
    assert a.block_table(1) == [0, 1, 3]
    a.free(1)
    assert a.allocate(3, [1, 2, 3, 4, 5, 6, 7]) == [4, 5, 3, 1]
    with pytest.raises(sol.OutOfBlocks):
        a.append(3, [8, 9])


def test_out_of_blocks_is_a_runtime_error() -> None:
    assert issubclass(sol.OutOfBlocks, RuntimeError), "OutOfBlocks must subclass RuntimeError"
    a = sol.BlockAllocator(2, 2)
    with pytest.raises(sol.OutOfBlocks):
        a.allocate(0, [1] * 5)


def test_allocation_that_fits_exactly_succeeds() -> None:
    a = sol.BlockAllocator(3, 2)
    assert a.allocate(0, [1] * 6) == [0, 1, 2], "6 tokens fit exactly in 3 blocks of 2"
    assert a.num_free_blocks() == 0
    with pytest.raises(sol.OutOfBlocks):
        a.allocate(1, [1])


def _busy_pool() -> tuple[Any, list[int]]:
    """A pool with shared, partial and freed blocks and a non-trivial queue order."""
    a = sol.BlockAllocator(8, 2)
    a.allocate(0, [1, 2, 3])  # [0, 1]
    a.allocate(1, [1, 2, 3, 4])  # [2, 3]
    a.fork(0, 2)
    a.allocate(3, [1])  # [4]
    a.free(1)  # queue 5 6 7 3 2
    return a, [0, 2, 3]


def test_failed_allocate_changes_nothing() -> None:
    a, seqs = _busy_pool()
    before = snapshot(a, seqs, 8)
    with pytest.raises(sol.OutOfBlocks):
        a.allocate(9, [1] * 11)  # 6 blocks, 5 free
    assert snapshot(a, seqs, 8) == before, "a failed allocate must leave tables and refs unchanged"
    with pytest.raises(KeyError):
        a.block_table(9)  # the failed sequence must not exist
    assert drain(a, 10, 2) == [5, 6, 7, 3, 2], (
        "a failed allocate must leave the queue order unchanged"
    )


def test_failed_append_changes_nothing() -> None:
    a, seqs = _busy_pool()
    before = snapshot(a, seqs, 8)
    with pytest.raises(sol.OutOfBlocks):
        a.append(3, [1] * 12)  # 1 slot left in block 4, then 6 new blocks; 5 free
    assert snapshot(a, seqs, 8) == before, (
        "a failed append must leave tables, counts and refs unchanged"
    )
    assert drain(a, 10, 2) == [5, 6, 7, 3, 2], (
        "a failed append must leave the queue order unchanged"
    )


def test_failed_copy_on_write_changes_nothing() -> None:
    a = sol.BlockAllocator(3, 2)
    a.allocate(0, [1, 2, 3])  # [0, 1]
    a.fork(0, 1)
    a.allocate(2, [1])  # [2]: pool full
    before = snapshot(a, [0, 1, 2], 3)
    with pytest.raises(sol.OutOfBlocks):
        a.append(1, [4])  # needs a copy of shared block 1, no free block
    assert snapshot(a, [0, 1, 2], 3) == before, (
        "an append that cannot get its copy-on-write block must change nothing"
    )
    a.free(2)
    assert a.append(1, [4]) == [(1, 2)], "once a block is free the same append succeeds"


def test_unknown_sequence_raises_key_error() -> None:
    a = sol.BlockAllocator(4, 2)
    a.allocate(0, [1])
    for call in (
        lambda: a.append(7, [1]),
        lambda: a.fork(7, 8),
        lambda: a.free(7),
        lambda: a.block_table(7),
        lambda: a.num_tokens(7),
    ):
        with pytest.raises(KeyError):
            call()
    a.free(0)
    with pytest.raises(KeyError):
        a.free(0)  # a double free is an unknown sequence
    assert a.num_free_blocks() == 4, "a rejected double free must not return blocks twice"


def test_existing_sequence_id_raises_value_error() -> None:
    a = sol.BlockAllocator(4, 2)
    a.allocate(0, [1])
    a.allocate(1, [1])
    with pytest.raises(ValueError):
        a.allocate(0, [1])
    with pytest.raises(ValueError):
        a.fork(0, 1)
    assert a.num_free_blocks() == 2, "rejected calls must not take blocks"
    assert (a.ref_count(0), a.ref_count(1)) == (1, 1), "a rejected fork must not change ref counts"


@pytest.mark.parametrize(("num_blocks", "block_size"), [(-1, 4), (4, 0), (4, -2)])
def test_invalid_pool_raises_value_error(num_blocks: int, block_size: int) -> None:
    with pytest.raises(ValueError):
        sol.BlockAllocator(num_blocks, block_size)


def test_empty_pool_is_valid_and_runs_out_at_once() -> None:
    a = sol.BlockAllocator(0, 4)
    assert a.num_free_blocks() == 0
    assert a.allocate(0, []) == []
    with pytest.raises(sol.OutOfBlocks):
        a.append(0, [1])


def test_block_table_is_a_copy() -> None:
    a = sol.BlockAllocator(4, 2)
    table = a.allocate(0, [1, 2, 3])
    table.append(99)
    shown = a.block_table(0)
    shown.clear()
    assert a.block_table(0) == [0, 1], "mutating returned tables must not change the allocator"
    a.fork(0, 1)
    a.append(1, [4])
    assert a.block_table(0) == [0, 1], "a fork's table must not alias its parent's"


def test_parent_and_child_grow_independently_after_fork() -> None:
    a = sol.BlockAllocator(10, 2)
    a.allocate(0, [1, 2])  # [0]
    a.fork(0, 1)
    a.append(0, [3, 4, 5])
    a.append(1, [3])
    assert (a.num_tokens(0), a.num_tokens(1)) == (5, 3)
    assert a.block_table(0) == [0, 1, 2]
    assert a.block_table(1) == [0, 3]
    assert a.ref_count(0) == 2, "the full shared block 0 stays shared by both"
