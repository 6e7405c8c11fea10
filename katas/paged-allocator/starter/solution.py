"""Paged KV block allocator: see PROMPT.md for the full statement."""

from __future__ import annotations

from collections.abc import Sequence


class OutOfBlocks(RuntimeError):
    """Not enough free blocks for the request; the allocator is left unchanged."""


class BlockAllocator:
    """A fixed pool of `num_blocks` blocks of `block_size` tokens, FIFO free queue."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        raise NotImplementedError

    def allocate(self, seq_id: int, token_ids: Sequence[int]) -> list[int]:
        """New sequence with its prompt: takes ceil(len / block_size) blocks; returns its table."""
        raise NotImplementedError

    def append(self, seq_id: int, token_ids: Sequence[int]) -> list[tuple[int, int]]:
        """Add tokens; returns the (src, dst) copy-on-write copies the caller must do."""
        raise NotImplementedError

    def fork(self, parent_id: int, child_id: int) -> None:
        """The child shares every block of the parent (ref counts up, no block taken)."""
        raise NotImplementedError

    def free(self, seq_id: int) -> None:
        """Drop a sequence; blocks that reach ref count 0 join the tail, last block first."""
        raise NotImplementedError

    def block_table(self, seq_id: int) -> list[int]:
        raise NotImplementedError

    def num_tokens(self, seq_id: int) -> int:
        raise NotImplementedError

    def num_free_blocks(self) -> int:
        raise NotImplementedError

    def ref_count(self, block: int) -> int:
        raise NotImplementedError
