# BUG: copy-on-write also copies a shared last block that is already full
"""A vLLM-style KV block allocator: FIFO free queue, ref counts, fork, copy-on-write."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence


class OutOfBlocks(RuntimeError):
    """Not enough free blocks; the allocator is unchanged."""


class BlockAllocator:
    def __init__(self, num_blocks: int, block_size: int) -> None:
        if num_blocks < 0 or block_size < 1:
            raise ValueError(f"bad pool: num_blocks={num_blocks}, block_size={block_size}")
        self.num_blocks = num_blocks
        self.block_size = block_size
        # deque: O(1) popleft; a list's pop(0) would shift every free block each time.
        self._free: deque[int] = deque(range(num_blocks))
        self._refs = [0] * num_blocks
        self._tables: dict[int, list[int]] = {}
        self._lens: dict[int, int] = {}

    def _take(self, n: int) -> list[int]:
        blocks = [self._free.popleft() for _ in range(n)]
        for b in blocks:
            self._refs[b] = 1
        return blocks

    def allocate(self, seq_id: int, token_ids: Sequence[int]) -> list[int]:
        if seq_id in self._tables:
            raise ValueError(f"sequence {seq_id} already exists")
        need = -(-len(token_ids) // self.block_size)
        if need > len(self._free):
            raise OutOfBlocks(f"need {need} blocks, {len(self._free)} free")
        table = self._take(need)
        self._tables[seq_id] = table
        self._lens[seq_id] = len(token_ids)
        return list(table)

    def append(self, seq_id: int, token_ids: Sequence[int]) -> list[tuple[int, int]]:
        table = self._tables[seq_id]
        k = len(token_ids)
        if k == 0:
            return []
        n = self._lens[seq_id]
        room = len(table) * self.block_size - n  # free slots in the last block
        cow = len(table) > 0 and self._refs[table[-1]] > 1
        new = -(-(k - room) // self.block_size) if k > room else 0
        if cow + new > len(self._free):
            raise OutOfBlocks(f"need {cow + new} blocks, {len(self._free)} free")
        copies: list[tuple[int, int]] = []
        if cow:
            src = table[-1]
            (dst,) = self._take(1)
            self._refs[src] -= 1
            table[-1] = dst
            copies.append((src, dst))
        table.extend(self._take(new))
        self._lens[seq_id] = n + k
        return copies

    def fork(self, parent_id: int, child_id: int) -> None:
        table = self._tables[parent_id]
        if child_id in self._tables:
            raise ValueError(f"sequence {child_id} already exists")
        for b in table:
            self._refs[b] += 1
        self._tables[child_id] = list(table)
        self._lens[child_id] = self._lens[parent_id]

    def free(self, seq_id: int) -> None:
        table = self._tables.pop(seq_id)
        del self._lens[seq_id]
        for b in reversed(table):  # last block first, so a prefix outlives its tail
            self._refs[b] -= 1
            if self._refs[b] == 0:
                self._free.append(b)

    def block_table(self, seq_id: int) -> list[int]:
        return list(self._tables[seq_id])

    def num_tokens(self, seq_id: int) -> int:
        return self._lens[seq_id]

    def num_free_blocks(self) -> int:
        return len(self._free)

    def ref_count(self, block: int) -> int:
        return self._refs[block]
