"""Paged KV cache: a block allocator (free queue, ref counts, fork, copy-on-write,
prefix caching) and the K/V pools it indexes.

The KV cache is cut into `num_blocks` blocks of `block_size` token slots. A sequence
owns a *block table*: the ids of its blocks in order, so its token at position p
lives in block `table[p // block_size]`, slot `p % block_size`. Sequences can share
blocks (a fork, a cached prompt prefix); a block's ref count is the number of tables
that hold it, and a block returns to the free queue when that count reaches zero.

Worked example, block_size 2, a pool of 6 blocks (free queue head on the left):

    free [0 1 2 3 4 5]
    allocate(A, [1, 2, 3])   A = [0, 1]      block 1 holds one token, one slot left
                             free [2 3 4 5]
    fork(A, B)               B = [0, 1]      ref(0) = ref(1) = 2, nothing taken
    append(B, [4])           block 1 is shared and not full: B must not write into
                             it, so B takes block 2 from the head and the caller
                             copies 1 -> 2: returns [(1, 2)]
                             B = [0, 2], ref(0) = 2, ref(1) = 1, free [3 4 5]
    append(A, [5])           block 1 now belongs to A alone: no copy, returns []
    append(A, [6])           block 1 is full: A takes block 3, A = [0, 1, 3]
                             free [4 5]
    free(A)                  refs drop last block first: 3 -> 0, 1 -> 0, 0 -> 1
                             (B still holds 0), so 3 then 1 join the tail:
                             free [4 5 3 1]

Why last block first: with prefix caching, a freed block keeps its hash until
allocation takes it from the head. Queueing a sequence's tail ahead of its head
evicts the tail of a cached prompt first and keeps its prefix, which is what other
prompts are most likely to share.

Prefix caching (`BlockAllocator(..., prefix_caching=True)`): a *full* block is known
by the hash of (its parent block's hash, its tokens), so equal hashes mean equal
whole prefixes. Continuing the example with prefix caching on, A's blocks were
0 = (1, 2) and 1 = (3, 5); 0 is still held by B and 1 sits in the free queue with
its hash:

    allocate(C, [1, 2, 3, 5, 7])   blocks (1, 2) and (3, 5) hit: C reuses 0 (ref 2)
                                   and 1 (taken out of the middle of the queue, ref 1);
                                   token 7 gets block 4 from the head
                                   C = [0, 1, 4], free [5 3], num_cached_tokens(C) = 4

The free queue is an OrderedDict used as a doubly linked list: popping the head,
pushing the tail and unlinking a cache hit from the middle are all O(1). (A plain
list would pay O(n) for `pop(0)`; a plain dict's head scan degrades after many
deletions at its front.)

Keys are Python's 64-bit `hash`: a collision would alias two prefixes. A server
taking untrusted prompts would hash the same pair with hashlib.sha256 instead.

Failed requests change nothing: each operation counts the blocks it needs before
touching any state and raises `OutOfBlocks` if the free queue is too short.

API (the paged-allocator kata's, plus prefix caching and the K/V storage):

    a = BlockAllocator(num_blocks, block_size, prefix_caching=False)
    a.allocate(seq_id, token_ids) -> block table   a.append(seq_id, token_ids) -> copies
    a.fork(parent_id, child_id)   a.free(seq_id)   a.block_table(seq_id)   a.num_tokens(seq_id)
    a.num_free_blocks()   a.ref_count(block)   a.block_hash(block)   a.num_cached_tokens(seq_id)
    PagedKVCache(n_layers, num_blocks, block_size, n_kv_heads, head_dim, dtype=, device=)
        .write(layer, slots, k, v)   .gather(layer, block_tables, lengths)   .copy_blocks(copies)
    slot_mapping(table, start, stop, block_size)   block_tables_tensor(tables, device)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch

__all__ = [
    "BlockAllocator",
    "OutOfBlocks",
    "PagedKVCache",
    "block_tables_tensor",
    "hash_block",
    "slot_mapping",
]


class OutOfBlocks(RuntimeError):
    """Not enough free blocks for the request; the allocator is left unchanged."""


def hash_block(parent: int | None, tokens: Sequence[int]) -> int:
    """The prefix-cache key of a full block: hash of (parent block's hash, its tokens).

    The first block of a sequence has no parent. Python's `hash` never returns -1
    (CPython maps it to -2), so -1 stands for "no parent" without clashing with a
    real hash; `None` itself hashes by address before Python 3.12.
    """
    return hash((-1 if parent is None else parent, tuple(tokens)))


class _Seq:
    """One sequence's state: its block table and token count (plus prefix-cache state)."""

    __slots__ = ("chain", "num_cached_tokens", "num_tokens", "table", "tail")

    def __init__(self, table: list[int], num_tokens: int) -> None:
        self.table = table
        self.num_tokens = num_tokens
        self.num_cached_tokens = 0
        self.chain: int | None = None  # hash of the last full block (prefix caching)
        self.tail: list[int] = []  # tokens after the last full block (prefix caching)


class BlockAllocator:
    """A fixed pool of `num_blocks` blocks of `block_size` tokens (see the module docstring).

    Methods that name a sequence raise KeyError for an unknown id; `allocate` and
    `fork` raise ValueError for an id already in use. Blocks are ints in
    `[0, num_blocks)`; the free queue starts as `0, 1, ..., num_blocks - 1`.
    With `prefix_caching=False` (the default) this is exactly the kata's allocator.
    """

    def __init__(self, num_blocks: int, block_size: int, *, prefix_caching: bool = False) -> None:
        if num_blocks < 0:
            raise ValueError(f"num_blocks must be >= 0, got {num_blocks}")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.prefix_caching = prefix_caching
        self._free: OrderedDict[int, None] = OrderedDict.fromkeys(range(num_blocks))
        self._refs = [0] * num_blocks
        self._seqs: dict[int, _Seq] = {}
        # Prefix caching: the hash each cached block is registered under, and back.
        self._hash_of: list[int | None] = [None] * num_blocks
        self._block_of: dict[int, int] = {}

    # -- queries ---------------------------------------------------------------

    def block_table(self, seq_id: int) -> list[int]:
        """The sequence's block ids in order (a new list)."""
        return list(self._seqs[seq_id].table)

    def num_tokens(self, seq_id: int) -> int:
        return self._seqs[seq_id].num_tokens

    def num_free_blocks(self) -> int:
        """Blocks in the free queue, cached ones included (they are reusable)."""
        return len(self._free)

    def ref_count(self, block: int) -> int:
        """How many block tables hold `block` (0 for a free block)."""
        return self._refs[block]

    def block_hash(self, block: int) -> int | None:
        """The prefix-cache hash a block is registered under, or None."""
        return self._hash_of[block]

    def num_cached_tokens(self, seq_id: int) -> int:
        """Prompt tokens whose blocks came from the prefix cache at `allocate`.

        Their K/V is already in the pool, provided whoever filled those blocks has
        written it: prefill sequences that share a prefix before reading it.
        """
        return self._seqs[seq_id].num_cached_tokens

    # -- operations ------------------------------------------------------------

    def allocate(self, seq_id: int, token_ids: Sequence[int]) -> list[int]:
        """Give a new sequence blocks for its prompt; returns its block table.

        Takes ceil(len(token_ids) / block_size) blocks from the head of the free
        queue, in table order; with prefix caching, leading full blocks whose hash
        is cached are reused instead.
        """
        if seq_id in self._seqs:
            raise ValueError(f"sequence {seq_id} already exists")
        n_blocks = -(-len(token_ids) // self.block_size)
        if self.prefix_caching:
            return self._allocate_cached(seq_id, token_ids, n_blocks)
        self._check_free(seq_id, n_blocks)
        table = self._take(n_blocks)
        self._seqs[seq_id] = _Seq(table, len(token_ids))
        return list(table)

    def append(self, seq_id: int, token_ids: Sequence[int]) -> list[tuple[int, int]]:
        """Add tokens to a sequence; returns the (src, dst) block copies the caller must do.

        Tokens fill the last block, then new blocks from the head of the free queue.
        If the last block is not full and another table also holds it, the sequence
        first swaps it for a fresh block (copy-on-write, taken before any new block)
        and the caller copies src's K/V into dst. A full shared last block needs no
        copy: nothing is written into it.
        """
        seq = self._seqs[seq_id]
        table = seq.table
        k = len(token_ids)
        room = len(table) * self.block_size - seq.num_tokens  # free slots in the last block
        copies: list[tuple[int, int]] = []
        # The common decode step, a token that fits in a block held alone, skips all this.
        if k > room or (k > 0 and self._refs[table[-1]] > 1):
            cow = room > 0 and self._refs[table[-1]] > 1
            new = -(-(k - room) // self.block_size) if k > room else 0
            self._check_free(seq_id, cow + new)
            if cow:
                src, (dst,) = table[-1], self._take(1)
                self._refs[src] -= 1
                table[-1] = dst
                copies.append((src, dst))
            table += self._take(new)
        start = seq.num_tokens
        seq.num_tokens = start + k
        if self.prefix_caching:
            self._hash_full_blocks(seq, start, token_ids)
        return copies

    def fork(self, parent_id: int, child_id: int) -> None:
        """The child shares every block of the parent (ref counts up, no block taken)."""
        parent = self._seqs[parent_id]
        if child_id in self._seqs:
            raise ValueError(f"sequence {child_id} already exists")
        refs = self._refs
        for b in parent.table:
            refs[b] += 1
        child = _Seq(list(parent.table), parent.num_tokens)
        child.num_cached_tokens = parent.num_cached_tokens
        child.chain, child.tail = parent.chain, list(parent.tail)
        self._seqs[child_id] = child

    def free(self, seq_id: int) -> None:
        """Drop a sequence; blocks nobody else holds join the tail, last block first."""
        table = self._seqs.pop(seq_id).table
        refs, free = self._refs, self._free
        for b in reversed(table):
            refs[b] -= 1
            if refs[b] == 0:
                free[b] = None  # the tail; a cached block keeps its hash until reused

    # -- internals -------------------------------------------------------------

    def _check_free(self, seq_id: int, needed: int) -> None:
        if needed > len(self._free):
            raise OutOfBlocks(
                f"sequence {seq_id} needs {needed} free blocks, {len(self._free)} left"
            )

    def _take(self, n: int) -> list[int]:
        """Pop `n` blocks off the head, ref count 1; a cached one loses its hash (eviction)."""
        pop, refs = self._free.popitem, self._refs
        blocks = [pop(False)[0] for _ in range(n)]
        for b in blocks:
            refs[b] = 1
        if self.prefix_caching:
            for b in blocks:
                h = self._hash_of[b]
                if h is not None:
                    del self._block_of[h]
                    self._hash_of[b] = None
        return blocks

    def _allocate_cached(self, seq_id: int, token_ids: Sequence[int], n_blocks: int) -> list[int]:
        bs = self.block_size
        hashes: list[int] = []
        parent: int | None = None
        for i in range(len(token_ids) // bs):
            parent = hash_block(parent, token_ids[i * bs : (i + 1) * bs])
            hashes.append(parent)
        # Only a leading run of hits is usable: block i's K/V depends on every token before it.
        hits: list[int] = []
        for h in hashes:
            block = self._block_of.get(h)
            if block is None:
                break
            hits.append(block)
        # A hit on a free cached block also leaves the free queue: count it before changing anything.
        revived = [b for b in hits if self._refs[b] == 0]
        self._check_free(seq_id, n_blocks - len(hits) + len(revived))
        for b in revived:
            del self._free[b]  # O(1): OrderedDict unlinks it from the middle
        for b in hits:
            self._refs[b] += 1
        table = hits + self._take(n_blocks - len(hits))
        for i in range(len(hits), len(hashes)):
            self._register(table[i], hashes[i])
        seq = _Seq(table, len(token_ids))
        seq.num_cached_tokens = len(hits) * bs
        seq.chain = hashes[-1] if hashes else None
        seq.tail = list(token_ids[len(hashes) * bs :])
        self._seqs[seq_id] = seq
        return list(table)

    def _register(self, block: int, h: int) -> None:
        # The first block cached under a hash keeps it; an equal later block stays unhashed.
        if h not in self._block_of:
            self._block_of[h] = block
            self._hash_of[block] = h

    def _hash_full_blocks(self, seq: _Seq, start: int, token_ids: Sequence[int]) -> None:
        """Hash every block that `token_ids`, appended at position `start`, made full."""
        bs, tail = self.block_size, seq.tail
        pos = start
        for t in token_ids:
            tail.append(t)
            pos += 1
            if len(tail) == bs:
                seq.chain = hash_block(seq.chain, tail)
                self._register(seq.table[pos // bs - 1], seq.chain)
                tail.clear()


# -- K/V storage ---------------------------------------------------------------


def slot_mapping(block_table: Sequence[int], start: int, stop: int, block_size: int) -> list[int]:
    """Flat pool slots of positions `start..stop-1`: `table[p // bs] * bs + p % bs`.

    block_size 2, table [5, 2], positions 0..3 -> slots [10, 11, 4, 5].
    """
    return [block_table[p // block_size] * block_size + p % block_size for p in range(start, stop)]


def block_tables_tensor(
    tables: Sequence[Sequence[int]], device: torch.device | str | None = None
) -> torch.Tensor:
    """Block tables as one long tensor [batch, max_blocks], right-padded with block 0.

    The padding points at a real block, so gathering through it is safe; what it
    gathers lies past the sequence's length and is masked out (see `gather`).
    """
    width = max((len(t) for t in tables), default=0)
    rows = [list(t) + [0] * (width - len(t)) for t in tables]
    return torch.tensor(rows, dtype=torch.long, device=device).view(len(tables), width)


class PagedKVCache:
    """K and V pools for every layer, indexed by the allocator's block ids.

    `k[layer]` and `v[layer]` are [num_blocks, block_size, n_kv_heads, head_dim];
    slot s of the flat view [num_blocks * block_size, n_kv_heads, head_dim] is
    block `s // block_size`, offset `s % block_size`. One step of an engine:

        copies = allocator.append(seq, [token])      # or allocate for a prompt
        cache.copy_blocks(copies)                    # before anything is written
        slots = slot_mapping(allocator.block_table(seq), pos, pos + 1, block_size)
        cache.write(layer, torch.tensor(slots), k_new, v_new)
        k, v, valid = cache.gather(layer, block_tables, lengths)

    The pools live on `device`; the index tensors passed in must live there too.
    """

    def __init__(
        self,
        n_layers: int,
        num_blocks: int,
        block_size: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        self.block_size = block_size
        shape = (n_layers, num_blocks, block_size, n_kv_heads, head_dim)
        # One tensor for all layers, so a copy-on-write copies every layer in one op.
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)

    def write(self, layer: int, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store new tokens' K/V: `slots` [n] long, `k`, `v` [n, n_kv_heads, head_dim]."""
        n_kv, head_dim = self.k.shape[-2:]
        self.k[layer].view(-1, n_kv, head_dim).index_copy_(0, slots, k)  # [blocks * bs, n_kv, hd]
        self.v[layer].view(-1, n_kv, head_dim).index_copy_(0, slots, v)

    def gather(
        self, layer: int, block_tables: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """K/V of a batch of sequences, contiguous: `(k, v, valid)`.

        `block_tables` [batch, max_blocks] long (see `block_tables_tensor`), `lengths`
        [batch]. Returns k, v [batch, max_blocks * block_size, n_kv_heads, head_dim]
        and valid [batch, max_blocks * block_size], True at positions < length; the
        rest is padding for attention to mask. No host sync: the width comes from
        the table's shape, not from the lengths' values.
        """
        k = self.k[layer][block_tables].flatten(1, 2)  # [batch, max_blocks * bs, n_kv, hd]
        v = self.v[layer][block_tables].flatten(1, 2)
        pos = torch.arange(k.shape[1], device=block_tables.device)
        valid = pos[None, :] < lengths[:, None]  # [batch, max_blocks * bs]
        return k, v, valid

    def copy_blocks(self, copies: Sequence[tuple[int, int]]) -> None:
        """Do the allocator's copy-on-write copies, every layer, in order.

        In order, not in one gather: a block copied into by one append may be the
        source of a later copy in the same batch (fork, append, fork, append).
        """
        for src, dst in copies:
            self.k[:, dst].copy_(self.k[:, src])
            self.v[:, dst].copy_(self.v[:, src])
