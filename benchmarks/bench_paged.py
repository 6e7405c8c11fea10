"""Paged block allocator: block operations per second at 1k and 100k blocks.

    python -m benchmarks paged

One round is a serving step's churn: 32 prompts allocated, 16 of them forked, 8
one-token decode steps for all 48 sequences (the forks' first step is a
copy-on-write), then all 48 freed. The work per round is the same at every pool
size, so an O(1) allocator's time per round does not depend on the pool. The
contrast is the obvious allocator whose free list is a Python list popped at its
head (`list.pop(0)` shifts every free block), otherwise identical.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Protocol

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.paged import BlockAllocator

BLOCK_SIZE = 4
N_SEQS = 32
PROMPT = [1] * 42  # 11 blocks, the last half full
DECODE_STEPS = 8
SIZES = [1_000, 100_000]


class Allocator(Protocol):
    def allocate(self, seq_id: int, token_ids: Sequence[int]) -> list[int]: ...
    def append(self, seq_id: int, token_ids: Sequence[int]) -> list[tuple[int, int]]: ...
    def fork(self, parent_id: int, child_id: int) -> None: ...
    def free(self, seq_id: int) -> None: ...
    def num_free_blocks(self) -> int: ...


class ScannedFreeList:
    """The reference's semantics with a list for a free queue: `pop(0)` is O(pool)."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.block_size = block_size
        self.free_list = list(range(num_blocks))
        self.refs = [0] * num_blocks
        self.tables: dict[int, list[int]] = {}
        self.lens: dict[int, int] = {}

    def _take(self, n: int) -> list[int]:
        blocks = [self.free_list.pop(0) for _ in range(n)]
        for b in blocks:
            self.refs[b] = 1
        return blocks

    def allocate(self, seq_id: int, token_ids: Sequence[int]) -> list[int]:
        self.tables[seq_id] = self._take(-(-len(token_ids) // self.block_size))
        self.lens[seq_id] = len(token_ids)
        return list(self.tables[seq_id])

    def append(self, seq_id: int, token_ids: Sequence[int]) -> list[tuple[int, int]]:
        table, n, k = self.tables[seq_id], self.lens[seq_id], len(token_ids)
        room = len(table) * self.block_size - n
        copies: list[tuple[int, int]] = []
        if room > 0 and k > 0 and self.refs[table[-1]] > 1:
            (dst,) = self._take(1)
            self.refs[table[-1]] -= 1
            copies.append((table[-1], dst))
            table[-1] = dst
        if k > room:
            table += self._take(-(-(k - room) // self.block_size))
        self.lens[seq_id] = n + k
        return copies

    def fork(self, parent_id: int, child_id: int) -> None:
        for b in self.tables[parent_id]:
            self.refs[b] += 1
        self.tables[child_id] = list(self.tables[parent_id])
        self.lens[child_id] = self.lens[parent_id]

    def free(self, seq_id: int) -> None:
        for b in reversed(self.tables.pop(seq_id)):
            self.refs[b] -= 1
            if self.refs[b] == 0:
                self.free_list.append(b)
        del self.lens[seq_id]

    def num_free_blocks(self) -> int:
        return len(self.free_list)


def churn(a: Allocator) -> Callable[[], int]:
    """One round of the serving churn on `a`; returns the blocks it took (and gave back).

    Every round's prompts are new (a counter in the first token), so prefix caching
    never hits and its row shows the cost of hashing alone.
    """
    parents = list(range(N_SEQS))
    children = [N_SEQS + s for s in range(0, N_SEQS, 2)]
    everyone = parents + children
    token = [7]
    rounds = [0]

    def round_() -> int:
        rounds[0] += 1
        free_before = a.num_free_blocks()
        for s in parents:
            a.allocate(s, [rounds[0] * N_SEQS + s, *PROMPT[1:]])
        for s in range(0, N_SEQS, 2):
            a.fork(s, N_SEQS + s)
        for _ in range(DECODE_STEPS):
            for s in everyone:
                a.append(s, token)
        taken = free_before - a.num_free_blocks()
        for s in everyone:
            a.free(s)
        return taken

    return round_


CALLS = N_SEQS + N_SEQS // 2 + DECODE_STEPS * (N_SEQS + N_SEQS // 2) + (N_SEQS + N_SEQS // 2)


def run(device: str) -> Section:
    section = Section(
        name="paged",
        title="Paged block allocator: block operations per second",
        headers=[
            "allocator",
            "pool blocks",
            "time per round",
            "calls/s",
            "blocks moved/s",
            "vs reference",
        ],
    )
    blocks = churn(BlockAllocator(SIZES[0], BLOCK_SIZE))()  # the same at every size
    others: list[tuple[str, Callable[[int], Allocator]]] = [
        ("list.pop(0) free list", lambda n: ScannedFreeList(n, BLOCK_SIZE)),
        (
            "reference, prefix caching on",
            lambda n: BlockAllocator(n, BLOCK_SIZE, prefix_caching=True),
        ),
    ]

    def row(name: str, size: int, seconds: float, ratio: str) -> None:
        moved = 2 * blocks / seconds  # each block leaves the queue and comes back
        section.add(
            name, f"{size:,}", fmt_s(seconds), f"{CALLS / seconds:,.0f}", f"{moved:,.0f}", ratio
        )

    for size in SIZES:
        results = [
            (name, compare(churn(make(size)), churn(BlockAllocator(size, BLOCK_SIZE)), max_s=3.0))
            for name, make in others
        ]
        ref_s = statistics.median(c.b_s for _, c in results)
        row("reference (OrderedDict free queue)", size, ref_s, "1x")
        for name, c in results:
            row(name, size, c.a_s, fmt_ratio(c.ratio))
    reference: tuple[str, Callable[[int], Allocator]] = (
        "reference",
        lambda n: BlockAllocator(n, BLOCK_SIZE),
    )
    makers = [reference, *others]
    growth = {
        name: compare(churn(make(SIZES[-1])), churn(make(SIZES[0])), max_s=2.0).ratio
        for name, make in makers
    }
    section.notes.append(
        f"One round: {CALLS} calls (allocate, fork, one-token append, free) moving {blocks} "
        f"blocks out of the free queue and back, block_size {BLOCK_SIZE}. Pure Python on the "
        "CPU: the allocator holds no tensors, so `--device` does not apply."
    )
    section.notes.append(
        f"Growth of the time per round from {SIZES[0]:,} to {SIZES[-1]:,} blocks (side by side): "
        + ", ".join(f"{name} {fmt_ratio(g)}" for name, g in growth.items())
        + ". The paged-allocator kata fails a growth above 3x."
    )
    return section
