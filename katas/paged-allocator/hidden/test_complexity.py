"""Block operations must cost O(1) whatever the pool size.

The same fixed sequence of operations runs on a pool of 1,000 blocks and on one of
1,000,000, timed in the CPU time of the solution's process (the kernel's count, which
other load on the machine inflates little). The calls go in batches of 100 rounds,
one round trip each: a round trip per call would cost more than the call, and the
worker's share of it (decoding a call, sending a result) is the same at both sizes.
Measured: an O(1) allocator takes about 1.5x as long on the large pool; a free list
shifted or scanned per block (`list.pop(0)`, `min(free_set)`, `block in free_deque`)
pays for the million-block list on every block, about 30x. The bound, 10x, sits
between the two, and the large run stops early once it is over. Load only adds CPU
time, so a large run over the bound is taken again (three runs at most) before the
test fails.
"""

from __future__ import annotations

from typing import Any

import solution as sol

from grader.judge.remote import batch, cpu_seconds

SMALL, LARGE = 1_000, 1_000_000
ROUNDS = 1_000  # each: allocate, append into a new block, fork, copy-on-write, free x2
PER_BATCH = 100  # rounds per round trip
BLOCK_SIZE = 4
MAX_GROWTH = 10.0  # the large pool's time over the small one's
ATTEMPTS = 3


def _round(a: Any) -> list[tuple[Any, tuple[Any, ...]]]:
    """One round as calls for `batch`: 7 calls that take 10 blocks and return them."""
    prompt = [1] * 30  # 8 blocks, the last half full
    return [
        (a.allocate, (0, prompt)),
        (a.append, (0, [2, 3, 4])),  # fills the eighth block, takes a ninth
        (a.fork, (0, 1)),
        (a.append, (1, [5])),  # shared, half-full last block: copy-on-write
        (a.num_free_blocks, ()),
        (a.free, (0,)),
        (a.free, (1,)),
    ]


def _seconds(num_blocks: int, budget_s: float) -> tuple[float, int]:
    """CPU seconds for up to ROUNDS rounds on a fresh pool, and how many rounds ran."""
    a = sol.BlockAllocator(num_blocks, BLOCK_SIZE)  # construction is not timed
    calls = _round(a) * PER_BATCH
    start, done = cpu_seconds(sol), 0
    while done < ROUNDS and cpu_seconds(sol) - start <= budget_s:
        batch(calls)
        done += PER_BATCH
    return cpu_seconds(sol) - start, done


def test_block_operations_do_not_slow_down_with_a_million_block_pool() -> None:
    small = min(_seconds(SMALL, 5.0)[0] for _ in range(3))
    budget = max(MAX_GROWTH * small, 0.05)
    for _ in range(ATTEMPTS):
        large, done = _seconds(LARGE, budget)
        if done == ROUNDS and large <= budget:
            break
    assert done == ROUNDS and large <= budget, (
        f"{ROUNDS} rounds of allocate/append/fork/free took {small * 1e3:.1f} ms of CPU on "
        f"{SMALL:,} blocks, but {done} rounds on {LARGE:,} blocks took {large * 1e3:.0f} ms "
        f"(at most {MAX_GROWTH:.0f}x): some operation scans or shifts the free list "
        "(O(pool size) per block)"
    )
