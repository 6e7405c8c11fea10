"""Paged KV cache with block tables, in the style of vLLM's block manager.

The keys and values of every sequence live in two preallocated pools of shape
[num_blocks, block_size, n_kv_heads, head_dim]. A sequence does not own a contiguous
range of them: it owns a *block table*, the ids of its blocks in order. Its token at
position p lives in block table[p // block_size] at offset p % block_size, which is
flat slot table[p // block_size] * block_size + p % block_size of a pool viewed as
[num_blocks * block_size, n_kv_heads, head_dim] (what an attention kernel indexes).

Blocks are shared in two ways; a block's reference count is the number of block
tables that hold it.
- fork(parent, child), for parallel sampling and beam search: the child starts with a
  copy of the parent's table and every block gains a reference. A shared block is
  never written: the first write into a shared, partially filled last block copies it
  to a fresh block first (copy-on-write), and a full block is never written again.
- Prefix caching: a block that fills up is indexed by a hash of its tokens chained
  with the hash of the block before it, so equal hashes mean equal whole prefixes.
  add_sequence reuses the indexed blocks that start a new prompt. This is sound
  because a token's K/V depends only on the tokens up to and including it.
A block whose count drops to zero leaves the prefix index and joins the tail of the
free list; blocks are taken from its head.

Every operation that takes blocks counts what it needs first and raises OutOfBlocks
before changing anything when the free list is too short.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch


class OutOfBlocks(RuntimeError):
    """The free list cannot supply the blocks an operation needs; nothing was changed."""


class BlockAllocator:
    """Block ids 0 .. num_blocks - 1: a FIFO free list and a reference count per block."""

    def __init__(self, num_blocks: int) -> None:
        if num_blocks < 0:
            raise ValueError(f"num_blocks must be >= 0, got {num_blocks}")
        self.num_blocks = num_blocks
        self._free: deque[int] = deque(range(num_blocks))
        self._refs = [0] * num_blocks

    def num_free(self) -> int:
        return len(self._free)

    def ref_count(self, block: int) -> int:
        return self._refs[block]

    def allocate(self) -> int:
        """Take the block at the head of the free list, holding one reference."""
        if not self._free:
            raise OutOfBlocks("no free KV cache block left")
        block = self._free.popleft()
        self._refs[block] = 1
        return block

    def incref(self, block: int) -> None:
        if self._refs[block] == 0:
            raise ValueError(f"block {block} is free; only a held block can be shared")
        self._refs[block] += 1

    def decref(self, block: int) -> int:
        """Drop one reference; at zero the block joins the tail of the free list.

        Returns the references left."""
        if self._refs[block] == 0:
            raise ValueError(f"block {block} is already free")
        self._refs[block] -= 1
        if self._refs[block] == 0:
            self._free.append(block)
        return self._refs[block]


def _block_hash(parent: int | None, tokens: tuple[int, ...]) -> int:
    """The key of a full block: its tokens chained with the key of the block before it."""
    return hash((parent, tokens))


@dataclass
class _Sequence:
    token_ids: list[int] = field(default_factory=list)  # every token with K/V stored
    block_table: list[int] = field(default_factory=list)
    block_hashes: list[int] = field(default_factory=list)  # one per full block, in order


class PagedKVCache:
    """K/V pools plus the block tables that say where each sequence's tokens live."""

    def __init__(
        self,
        num_blocks: int,
        block_size: int,
        n_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
        *,
        prefix_caching: bool = True,
    ) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.block_size = block_size
        self.n_kv_heads = n_kv_heads
        self.head_dim = head_dim
        self.prefix_caching = prefix_caching
        self.allocator = BlockAllocator(num_blocks)
        shape = (num_blocks, block_size, n_kv_heads, head_dim)
        self.k_cache = torch.zeros(shape, dtype=dtype)
        self.v_cache = torch.zeros(shape, dtype=dtype)
        self._seqs: dict[int, _Sequence] = {}
        self._block_of_hash: dict[int, int] = {}  # prefix index: key -> block
        self._hash_of_block: dict[int, int] = {}  # its inverse, for the indexed blocks

    # ----------------------------------------------------------------- inspection

    def num_free_blocks(self) -> int:
        return self.allocator.num_free()

    def ref_count(self, block: int) -> int:
        return self.allocator.ref_count(block)

    def block_table(self, seq_id: int) -> list[int]:
        return list(self._seqs[seq_id].block_table)

    def num_tokens(self, seq_id: int) -> int:
        return len(self._seqs[seq_id].token_ids)

    # ------------------------------------------------------- sequence lifecycle

    def add_sequence(self, seq_id: int, prompt: Sequence[int] = ()) -> int:
        """Start a sequence, reusing the indexed full blocks that begin `prompt`.

        Returns how many prompt tokens are already cached (a multiple of block_size):
        the caller computes K/V for prompt[cached:] and appends them. The last prompt
        token is never reused, since its forward pass yields the first logits.
        """
        if seq_id in self._seqs:
            raise ValueError(f"sequence {seq_id} already exists")
        seq = _Sequence()
        if self.prefix_caching:
            bs = self.block_size
            parent: int | None = None
            for i in range((len(prompt) - 1) // bs):
                tokens = tuple(prompt[i * bs : (i + 1) * bs])
                digest = _block_hash(parent, tokens)
                block = self._block_of_hash.get(digest)
                if block is None:
                    break
                self.allocator.incref(block)
                seq.block_table.append(block)
                seq.block_hashes.append(digest)
                seq.token_ids.extend(tokens)
                parent = digest
        self._seqs[seq_id] = seq
        return len(seq.token_ids)

    def fork(self, parent_id: int, child_id: int) -> None:
        """The child continues from the parent's tokens, sharing all of its blocks."""
        if child_id in self._seqs:
            raise ValueError(f"sequence {child_id} already exists")
        parent = self._seqs[parent_id]
        for block in parent.block_table:
            self.allocator.incref(block)
        self._seqs[child_id] = copy.copy(parent)

    def free(self, seq_id: int) -> None:
        """Drop the sequence; its blocks lose a reference each, last block first."""
        seq = self._seqs.pop(seq_id)
        for block in reversed(seq.block_table):
            self._release(block)

    # ------------------------------------------------------------------ writing

    def append(
        self, seq_id: int, token_ids: Sequence[int], k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        """Append tokens with their keys and values, [n, n_kv_heads, head_dim] each.

        Returns the n flat slots written."""
        seq = self._seqs[seq_id]
        shape = (len(token_ids), self.n_kv_heads, self.head_dim)
        if tuple(k.shape) != shape or tuple(v.shape) != shape:
            raise ValueError(f"k and v must be {shape}, got {tuple(k.shape)}, {tuple(v.shape)}")
        needed = self._blocks_needed(seq, len(token_ids))
        if needed > self.allocator.num_free():
            raise OutOfBlocks(f"append needs {needed} blocks, {self.allocator.num_free()} free")
        slots = [self._append_slot(seq, token) for token in token_ids]
        slot_tensor = torch.tensor(slots, dtype=torch.int64)
        self.write(slot_tensor, k, v)
        return slot_tensor

    def slot_mapping(self, seq_ids: Sequence[int], token_ids: Sequence[int]) -> torch.Tensor:
        """One decode step for a batch: a slot for each sequence's next token.

        token_ids[i] is the token sequence seq_ids[i] appends. Returns [batch] int64
        flat slots; the caller stores the step's K/V there with `write` before the
        next call. Fails before reserving anything unless the free list holds a block
        for every sequence whose token opens a block or must copy a shared one.
        """
        if len(set(seq_ids)) != len(seq_ids):
            raise ValueError(f"a decode step appends one token per sequence: {list(seq_ids)}")
        if len(token_ids) != len(seq_ids):
            raise ValueError(f"{len(seq_ids)} sequences but {len(token_ids)} tokens")
        seqs = [self._seqs[s] for s in seq_ids]
        needed = sum(self._blocks_needed(seq, 1) for seq in seqs)
        if needed > self.allocator.num_free():
            raise OutOfBlocks(
                f"decode step needs {needed} blocks, {self.allocator.num_free()} free"
            )
        slots = [self._append_slot(seq, token) for seq, token in zip(seqs, token_ids, strict=True)]
        return torch.tensor(slots, dtype=torch.int64)

    def write(self, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store k[i] and v[i] ([n, n_kv_heads, head_dim]) at flat slot slots[i]."""
        flat = (-1, self.n_kv_heads, self.head_dim)
        self.k_cache.view(flat)[slots] = k.to(self.k_cache.dtype)
        self.v_cache.view(flat)[slots] = v.to(self.v_cache.dtype)

    # ------------------------------------------------------------------ reading

    def gather(self, seq_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The sequence's keys and values in token order, [num_tokens, n_kv_heads, head_dim]."""
        seq = self._seqs[seq_id]
        n = len(seq.token_ids)
        if n == 0:
            empty = self.k_cache.new_zeros((0, self.n_kv_heads, self.head_dim))
            return empty, empty.clone()
        table = torch.tensor(seq.block_table, dtype=torch.int64)
        full, last = table[:-1], table[-1]
        n_last = n - len(full) * self.block_size  # 1 .. block_size tokens in the last block
        k = torch.cat([self.k_cache[full].flatten(0, 1), self.k_cache[last, :n_last]])
        v = torch.cat([self.v_cache[full].flatten(0, 1), self.v_cache[last, :n_last]])
        return k, v

    # ---------------------------------------------------------------- internals

    def _blocks_needed(self, seq: _Sequence, n_tokens: int) -> int:
        """Blocks that appending n_tokens takes: new blocks, plus one copy-on-write."""
        if n_tokens == 0:
            return 0
        bs = self.block_size
        n = len(seq.token_ids)
        new_blocks = (n + n_tokens + bs - 1) // bs - len(seq.block_table)
        shared_partial = n % bs != 0 and self.allocator.ref_count(seq.block_table[-1]) > 1
        return new_blocks + int(shared_partial)

    def _append_slot(self, seq: _Sequence, token: int) -> int:
        """Make room for one more token of `seq` and return its flat slot."""
        bs = self.block_size
        pos = len(seq.token_ids)
        if pos == len(seq.block_table) * bs:
            seq.block_table.append(self.allocator.allocate())  # every block is full
        elif self.allocator.ref_count(seq.block_table[-1]) > 1:
            self._copy_on_write(seq)  # shared and partially filled: copy before writing
        seq.token_ids.append(token)
        if self.prefix_caching and (pos + 1) % bs == 0:
            self._index_full_block(seq)
        return seq.block_table[pos // bs] * bs + pos % bs

    def _copy_on_write(self, seq: _Sequence) -> None:
        """Give `seq` a private copy of its shared last block."""
        src = seq.block_table[-1]
        dst = self.allocator.allocate()
        self.k_cache[dst].copy_(self.k_cache[src])
        self.v_cache[dst].copy_(self.v_cache[src])
        seq.block_table[-1] = dst
        self.allocator.decref(src)  # the other tables still hold src

    def _index_full_block(self, seq: _Sequence) -> None:
        """The last block of `seq` just filled: key it, and index it unless an equal
        block is indexed already."""
        bs = self.block_size
        i = len(seq.block_hashes)
        parent = seq.block_hashes[-1] if seq.block_hashes else None
        digest = _block_hash(parent, tuple(seq.token_ids[i * bs : (i + 1) * bs]))
        seq.block_hashes.append(digest)
        block = seq.block_table[i]
        if digest not in self._block_of_hash:
            self._block_of_hash[digest] = block
            self._hash_of_block[block] = digest

    def _release(self, block: int) -> None:
        """Drop one reference; a block nobody holds any more leaves the prefix index."""
        if self.allocator.decref(block) == 0:
            digest = self._hash_of_block.pop(block, None)
            if digest is not None:
                del self._block_of_hash[digest]
