"""A slow, obvious model of the block pool: the oracle of the stateful test.

It shares nothing with a fast allocator on purpose:
- the free queue is a plain list (`pop(0)` from the head, `append` at the tail);
- ref counts are never stored, they are counted over the block tables;
- `append` walks the tokens one at a time (copy-on-write before the first token
  lands in a shared block, a new block whenever the last one is full);
- atomicity comes from working on a copy and keeping it only if nothing ran out.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from grader.judge.remote import batch


class ModelOutOfBlocks(Exception):
    pass


@dataclass
class PoolModel:
    num_blocks: int
    block_size: int
    free: list[int] = field(default_factory=list)
    tables: dict[int, list[int]] = field(default_factory=dict)
    lens: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free = list(range(self.num_blocks))

    def ref_count(self, block: int) -> int:
        return sum(table.count(block) for table in self.tables.values())

    def _take(self) -> int:
        if not self.free:
            raise ModelOutOfBlocks
        return self.free.pop(0)

    def _atomic(self, op: Any, *args: Any) -> Any:
        trial = copy.deepcopy(self)
        result = op(trial, *args)  # raises ModelOutOfBlocks, leaving self untouched
        self.free, self.tables, self.lens = trial.free, trial.tables, trial.lens
        return result

    def allocate(self, seq_id: int, n_tokens: int) -> list[int]:
        def op(m: PoolModel, seq_id: int, n_tokens: int) -> list[int]:
            m.tables[seq_id] = []
            m.lens[seq_id] = 0
            for _ in range(n_tokens):
                if m.lens[seq_id] % m.block_size == 0:
                    m.tables[seq_id].append(m._take())
                m.lens[seq_id] += 1
            return list(m.tables[seq_id])

        result: list[int] = self._atomic(op, seq_id, n_tokens)
        return result

    def append(self, seq_id: int, n_tokens: int) -> list[tuple[int, int]]:
        def op(m: PoolModel, seq_id: int, n_tokens: int) -> list[tuple[int, int]]:
            copies: list[tuple[int, int]] = []
            table = m.tables[seq_id]
            for _ in range(n_tokens):
                if m.lens[seq_id] % m.block_size == 0:
                    table.append(m._take())
                elif m.ref_count(table[-1]) > 1:
                    new = m._take()
                    copies.append((table[-1], new))
                    table[-1] = new
                m.lens[seq_id] += 1
            return copies

        result: list[tuple[int, int]] = self._atomic(op, seq_id, n_tokens)
        return result

    def fork(self, parent_id: int, child_id: int) -> None:
        self.tables[child_id] = list(self.tables[parent_id])
        self.lens[child_id] = self.lens[parent_id]

    def free_seq(self, seq_id: int) -> None:
        table = self.tables.pop(seq_id)
        del self.lens[seq_id]
        for block in reversed(table):
            if self.ref_count(block) == 0:
                self.free.append(block)


def snapshot(alloc: Any, seq_ids: Iterable[int], num_blocks: int) -> dict[str, Any]:
    """Everything an allocator shows through its API (the queue order aside).

    One round trip to the solution's process for all the reads (`batch`): the stateful
    test takes two snapshots a step, which would otherwise be some 100k calls.
    """
    ids = sorted(seq_ids)
    calls: list[tuple[Any, tuple[int, ...]]] = [(alloc.num_free_blocks, ())]
    calls += [(alloc.block_table, (s,)) for s in ids]
    calls += [(alloc.num_tokens, (s,)) for s in ids]
    calls += [(alloc.ref_count, (b,)) for b in range(num_blocks)]
    free, *values = batch(calls)
    n = len(ids)
    return {
        "tables": dict(zip(ids, values[:n], strict=True)),
        "tokens": dict(zip(ids, values[n : 2 * n], strict=True)),
        "free": free,
        "refs": values[2 * n :],
    }


def drain(alloc: Any, seq_id: int, block_size: int) -> list[int]:
    """The free queue's order, head first: a sequence that takes every free block.

    Destructive: the caller frees `seq_id` afterwards if it wants the blocks back
    (they then return in reverse order).
    """
    return list(alloc.allocate(seq_id, [0] * (alloc.num_free_blocks() * block_size)))
