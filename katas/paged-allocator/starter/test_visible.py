"""A few examples from the prompt. Run with `drill test`."""

from __future__ import annotations

import pytest
from solution import BlockAllocator, OutOfBlocks


def test_allocate_takes_blocks_from_the_head() -> None:
    a = BlockAllocator(6, 2)
    assert a.allocate(1, [11, 12, 13]) == [0, 1]
    assert a.num_free_blocks() == 4
    assert a.num_tokens(1) == 3


def test_fork_shares_blocks_and_append_copies_a_shared_partial_block() -> None:
    a = BlockAllocator(6, 2)
    a.allocate(1, [11, 12, 13])
    a.fork(1, 2)
    assert a.ref_count(0) == 2 and a.ref_count(1) == 2
    assert a.append(2, [14]) == [(1, 2)]
    assert a.block_table(2) == [0, 2]
    assert a.ref_count(1) == 1


def test_free_returns_blocks_to_the_tail_last_block_first() -> None:
    a = BlockAllocator(4, 2)
    a.allocate(1, [1, 2, 3])  # [0, 1], free queue 2 3
    a.free(1)  # free queue 2 3 1 0
    assert a.allocate(2, [0] * 8) == [2, 3, 1, 0]


def test_out_of_blocks_changes_nothing() -> None:
    a = BlockAllocator(2, 2)
    a.allocate(1, [1])
    with pytest.raises(OutOfBlocks):
        a.allocate(2, [1, 2, 3])
    assert a.num_free_blocks() == 1
    assert a.block_table(1) == [0]
