"""Block operations must cost O(1) whatever the pool size.

The same fixed sequence of operations runs on a pool of 1,000 blocks and on one of
1,000,000. An O(1) allocator takes about as long on both (measured: within 1.5x).
A free list shifted or scanned per allocation (`list.pop(0)`, `min(free_set)`,
`block in free_deque`) pays for the million-block list on every block: hundreds of
times slower. The bound below sits far between the two, and times are CPU time of
this process, so other load on the machine does not flip the verdict; the large run
stops early once it is clearly over.
"""

from __future__ import annotations

import time
from typing import Any

import solution as sol

SMALL, LARGE = 1_000, 1_000_000
ROUNDS = 1_000  # each: allocate, append into a new block, fork, copy-on-write, free x2
BLOCK_SIZE = 4


def _churn(a: Any, rounds: int, deadline: float) -> int:
    """Run up to `rounds` rounds (about 8 block operations each); return how many ran."""
    prompt = [1] * 6  # 2 blocks, the last half full
    for i in range(rounds):
        a.allocate(0, prompt)
        a.append(0, [2, 3, 4])  # fills the second block, takes a third
        a.fork(0, 1)
        a.append(1, [5])  # shared, half-full last block: copy-on-write
        a.num_free_blocks()
        a.free(0)
        a.free(1)
        if i % 50 == 49 and time.process_time() > deadline:
            return i + 1
    return rounds


def _seconds(num_blocks: int, budget_s: float) -> tuple[float, int]:
    a = sol.BlockAllocator(num_blocks, BLOCK_SIZE)  # construction is not timed
    start = time.process_time()
    done = _churn(a, ROUNDS, start + budget_s)
    return time.process_time() - start, done


def test_block_operations_do_not_slow_down_with_a_million_block_pool() -> None:
    small = min(_seconds(SMALL, 5.0)[0] for _ in range(3))
    budget = max(25 * small, 0.3)
    large, done = _seconds(LARGE, budget)
    assert done == ROUNDS and large <= budget, (
        f"{ROUNDS} rounds of allocate/append/fork/free took {small * 1e3:.1f} ms on "
        f"{SMALL:,} blocks, but {done} rounds on {LARGE:,} blocks took {large * 1e3:.0f} ms: "
        "some operation scans or shifts the free list (O(pool size) per block)"
    )
