"""reference.paged: the block allocator against a slow model and a simulated K/V pool,
prefix caching worked by hand, and the paged K/V cache against a contiguous one.

Oracles:
- `SlowPool`: a list-based FIFO model with ref counts counted over the tables; it
  predicts every block id the allocator hands out (prefix caching off).
- `Contents`: the tokens each block slot holds, written the way an engine writes
  K/V (the copies `append` returns first, then the new tokens). Reading a sequence
  back through its block table must give its tokens: this checks prefix-cache hits,
  copy-on-write and eviction end to end, whatever the allocator does inside.
- A contiguous `[batch, seq, n_kv, head_dim]` cache written position by position.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reference.paged import (
    BlockAllocator,
    OutOfBlocks,
    PagedKVCache,
    block_tables_tensor,
    hash_block,
    slot_mapping,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, needs_cuda])]


def queue_order(a: BlockAllocator, seq_id: int = 10**9) -> list[int]:
    """The free queue head first, read by taking every free block (then given back).

    With prefix caching off only: it evicts nothing then, and freeing the drain
    sequence returns the blocks in reverse, which the callers account for.
    """
    order = a.allocate(seq_id, [0] * (a.num_free_blocks() * a.block_size))
    a.free(seq_id)
    return order


# -- oracles ---------------------------------------------------------------------


class SlowPool:
    """FIFO list, tables, token counts; ref counts are counted, never stored."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.bs = block_size
        self.free = list(range(num_blocks))
        self.tables: dict[int, list[int]] = {}
        self.lens: dict[int, int] = {}

    def refs(self, block: int) -> int:
        return sum(t.count(block) for t in self.tables.values())

    def allocate(self, seq: int, n: int) -> list[int] | None:
        need = -(-n // self.bs)
        if need > len(self.free):
            return None
        self.tables[seq] = [self.free.pop(0) for _ in range(need)]
        self.lens[seq] = n
        return list(self.tables[seq])

    def append(self, seq: int, k: int) -> list[tuple[int, int]] | None:
        trial = copy.deepcopy(self)
        copies: list[tuple[int, int]] = []
        table = trial.tables[seq]
        for _ in range(k):  # token by token
            if trial.lens[seq] % self.bs == 0:
                if not trial.free:
                    return None
                table.append(trial.free.pop(0))
            elif trial.refs(table[-1]) > 1:
                if not trial.free:
                    return None
                copies.append((table[-1], trial.free[0]))
                table[-1] = trial.free.pop(0)
            trial.lens[seq] += 1
        self.free, self.tables, self.lens = trial.free, trial.tables, trial.lens
        return copies

    def fork(self, parent: int, child: int) -> None:
        self.tables[child] = list(self.tables[parent])
        self.lens[child] = self.lens[parent]

    def release(self, seq: int) -> None:
        table = self.tables.pop(seq)
        del self.lens[seq]
        self.free += [b for b in reversed(table) if self.refs(b) == 0]


class Contents:
    """What each block slot holds, written as an engine would write K/V."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.bs = block_size
        self.slots: list[list[int | None]] = [[None] * block_size for _ in range(num_blocks)]

    def copy(self, copies: Sequence[tuple[int, int]]) -> None:
        for src, dst in copies:
            self.slots[dst] = list(self.slots[src])

    def write(self, a: BlockAllocator, seq: int, start: int, tokens: Sequence[int]) -> None:
        table = a.block_table(seq)
        for i, t in enumerate(tokens, start):
            block = table[i // self.bs]
            assert a.ref_count(block) == 1, f"seq {seq} writes into block {block}, held elsewhere"
            self.slots[block][i % self.bs] = t

    def read(self, table: Sequence[int], n: int) -> list[int | None]:
        return [self.slots[table[i // self.bs]][i % self.bs] for i in range(n)]


# -- the allocator under random operations -----------------------------------------


class AllocatorMachine(RuleBasedStateMachine):
    """Random allocate/append/fork/free; prefix caching per subclass."""

    prefix_caching = False

    def __init__(self) -> None:
        super().__init__()
        self.a = BlockAllocator(0, 1)
        self.model = SlowPool(0, 1)
        self.contents = Contents(0, 1)
        self.tokens: dict[int, list[int]] = {}
        self.next_id = 0

    @initialize(num_blocks=st.integers(0, 16), block_size=st.integers(1, 4))
    def make_pool(self, num_blocks: int, block_size: int) -> None:
        self.a = BlockAllocator(num_blocks, block_size, prefix_caching=self.prefix_caching)
        self.model = SlowPool(num_blocks, block_size)
        self.contents = Contents(num_blocks, block_size)

    def snapshot(self) -> tuple[object, ...]:
        a = self.a
        return (
            {s: (a.block_table(s), a.num_tokens(s)) for s in self.tokens},
            a.num_free_blocks(),
            [a.ref_count(b) for b in range(a.num_blocks)],
            [a.block_hash(b) for b in range(a.num_blocks)],
        )

    @rule(prompt=st.lists(st.integers(0, 2), max_size=10))
    def allocate(self, prompt: list[int]) -> None:
        self.next_id += 1
        seq = self.next_id
        before = self.snapshot()
        try:
            table = self.a.allocate(seq, prompt)
        except OutOfBlocks:
            assert self.snapshot() == before, "a failed allocate changed the allocator"
            if not self.prefix_caching:
                assert self.model.allocate(seq, len(prompt)) is None, "allocate should have fit"
            return
        if not self.prefix_caching:
            assert table == self.model.allocate(seq, len(prompt))
        self.tokens[seq] = list(prompt)
        cached = self.a.num_cached_tokens(seq)
        assert cached % self.a.block_size == 0 and cached <= len(prompt)
        self.contents.write(self.a, seq, cached, prompt[cached:])

    @precondition(lambda self: bool(self.tokens))
    @rule(data=st.data(), new=st.lists(st.integers(0, 2), max_size=6))
    def append(self, data: st.DataObject, new: list[int]) -> None:
        seq = data.draw(st.sampled_from(sorted(self.tokens)))
        before = self.snapshot()
        try:
            copies = self.a.append(seq, new)
        except OutOfBlocks:
            assert self.snapshot() == before, "a failed append changed the allocator"
            if not self.prefix_caching:
                assert self.model.append(seq, len(new)) is None, "append should have fit"
            return
        if not self.prefix_caching:
            assert copies == self.model.append(seq, len(new))
        self.contents.copy(copies)
        self.contents.write(self.a, seq, len(self.tokens[seq]), new)
        self.tokens[seq] += new

    @precondition(lambda self: bool(self.tokens))
    @rule(data=st.data())
    def fork(self, data: st.DataObject) -> None:
        parent = data.draw(st.sampled_from(sorted(self.tokens)))
        self.next_id += 1
        self.a.fork(parent, self.next_id)
        if not self.prefix_caching:
            self.model.fork(parent, self.next_id)
        self.tokens[self.next_id] = list(self.tokens[parent])

    @precondition(lambda self: bool(self.tokens))
    @rule(data=st.data())
    def free(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(sorted(self.tokens)))
        self.a.free(seq)
        if not self.prefix_caching:
            self.model.release(seq)
        del self.tokens[seq]

    @invariant()
    def pool_is_consistent(self) -> None:
        a = self.a
        holders: Counter[int] = Counter()
        for seq, toks in self.tokens.items():
            table = a.block_table(seq)
            assert a.num_tokens(seq) == len(toks)
            assert len(table) == -(-len(toks) // a.block_size)
            assert len(set(table)) == len(table)
            assert self.contents.read(table, len(toks)) == toks, f"seq {seq} reads back wrong"
            holders.update(table)
        for b in range(a.num_blocks):
            assert a.ref_count(b) == holders[b], f"block {b}: ref count vs holders"
        assert len(holders) + a.num_free_blocks() == a.num_blocks
        hashes = [h for b in range(a.num_blocks) if (h := a.block_hash(b)) is not None]
        assert len(hashes) == len(set(hashes)), "two blocks registered under one hash"
        if not self.prefix_caching:
            assert not hashes
            assert {s: a.block_table(s) for s in self.tokens} == self.model.tables
            assert a.num_free_blocks() == len(self.model.free)

    def teardown(self) -> None:
        if not self.prefix_caching and self.a.num_blocks:
            assert queue_order(self.a) == self.model.free, "free queue order"


class PrefixCachingMachine(AllocatorMachine):
    prefix_caching = True


SETTINGS = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
AllocatorMachine.TestCase.settings = SETTINGS
PrefixCachingMachine.TestCase.settings = SETTINGS
test_allocator_matches_a_slow_fifo_model = AllocatorMachine.TestCase
test_prefix_caching_keeps_every_sequence_readable = PrefixCachingMachine.TestCase


# -- the allocator, worked by hand ---------------------------------------------------


def test_module_docstring_example() -> None:
    a = BlockAllocator(6, 2, prefix_caching=True)
    assert a.allocate(1, [1, 2, 3]) == [0, 1]
    a.fork(1, 2)
    assert a.append(2, [4]) == [(1, 2)]
    assert (a.ref_count(0), a.ref_count(1), a.ref_count(2)) == (2, 1, 1)
    assert a.append(1, [5]) == []
    assert a.append(1, [6]) == []
    assert a.block_table(1) == [0, 1, 3]
    a.free(1)
    assert a.num_free_blocks() == 4  # 4 5 3 1
    assert a.allocate(3, [1, 2, 3, 5, 7]) == [0, 1, 4]
    assert a.num_cached_tokens(3) == 4
    assert a.ref_count(0) == 2, "block 0 is held by B and C"
    assert a.num_free_blocks() == 2  # 5 3


def test_free_returns_blocks_last_block_first_to_the_tail() -> None:
    a = BlockAllocator(6, 2)
    a.allocate(0, [1] * 5)  # [0, 1, 2]
    a.free(0)
    assert queue_order(a) == [3, 4, 5, 2, 1, 0]


def test_copy_on_write_only_for_a_shared_partial_last_block() -> None:
    a = BlockAllocator(8, 2)
    a.allocate(0, [1, 2, 3, 4])  # two full blocks
    a.fork(0, 1)
    assert a.append(1, [5]) == [], "a full shared block is never written: no copy"
    a.fork(1, 2)
    assert a.append(2, [6]) == [(2, 3)], "block 2 is shared and half full: copy"
    assert a.append(1, [6]) == [], "after seq 2's copy, seq 1 holds block 2 alone"


def test_failed_append_with_copy_changes_nothing() -> None:
    a = BlockAllocator(3, 2)
    a.allocate(0, [1])
    a.fork(0, 1)
    a.allocate(2, [1, 2, 3, 4])  # pool full
    with pytest.raises(OutOfBlocks):
        a.append(1, [2])
    assert (a.block_table(1), a.ref_count(0), a.num_free_blocks()) == ([0], 2, 0)


def test_errors_for_unknown_and_duplicate_sequences() -> None:
    a = BlockAllocator(4, 2)
    a.allocate(0, [1])
    with pytest.raises(ValueError):
        a.allocate(0, [1])
    with pytest.raises(ValueError):
        a.fork(0, 0)
    for call in (lambda: a.append(5, [1]), lambda: a.free(5), lambda: a.fork(5, 6)):
        with pytest.raises(KeyError):
            call()
    with pytest.raises(ValueError):
        BlockAllocator(4, 0)


# -- prefix caching, worked by hand ---------------------------------------------------


def test_prefix_hit_shares_full_blocks_and_reports_cached_tokens() -> None:
    a = BlockAllocator(8, 2, prefix_caching=True)
    assert a.allocate(0, [1, 2, 3, 4, 5]) == [0, 1, 2]
    assert a.allocate(1, [1, 2, 3, 4, 9]) == [0, 1, 3], "two full blocks hit, 9 gets a new one"
    assert a.num_cached_tokens(1) == 4
    assert (a.ref_count(0), a.ref_count(1), a.ref_count(2)) == (2, 2, 1)
    assert a.block_hash(2) is None, "a partial block is never cached"


def test_a_partial_block_never_hits() -> None:
    a = BlockAllocator(8, 4, prefix_caching=True)
    a.allocate(0, [1, 2, 3])
    assert a.allocate(1, [1, 2, 3]) == [1]
    assert a.num_cached_tokens(1) == 0


def test_hash_chain_equal_tokens_after_a_different_prefix_do_not_hit() -> None:
    a = BlockAllocator(8, 2, prefix_caching=True)
    a.allocate(0, [1, 2, 3, 4])
    assert a.allocate(1, [9, 9, 3, 4]) == [2, 3], "block (3, 4) follows a different prefix"
    assert a.allocate(2, [1, 2, 8, 8, 3, 4]) == [0, 4, 5], "the run of hits stops at the first miss"
    assert a.num_cached_tokens(2) == 2
    h0 = hash_block(None, [1, 2])
    assert a.block_hash(0) == h0
    assert a.block_hash(1) == hash_block(h0, [3, 4])
    assert a.block_hash(3) == hash_block(hash_block(None, [9, 9]), [3, 4]) != a.block_hash(1)


def test_a_cached_block_after_a_miss_is_not_reused() -> None:
    a = BlockAllocator(8, 2, prefix_caching=True)
    a.allocate(0, [1, 2])  # [0], cached as (1, 2)
    a.allocate(1, [1])
    a.append(1, [2, 3, 4])  # [1, 2]: block 1 duplicates (1, 2) unregistered, 2 is (1 2)(3 4)
    a.free(0)  # queue 3 4 5 6 7 0
    a.allocate(2, [9] * 12)  # takes 3 4 5 6 7 0: evicts (1, 2)
    a.free(2)  # queue 0 7 6 5 4 3
    assert a.block_hash(2) == hash_block(hash_block(None, [1, 2]), [3, 4])
    assert a.allocate(3, [1, 2, 3, 4]) == [0, 7], (
        "block (3, 4) is cached, but its parent (1, 2) missed: its K/V cannot be reused"
    )
    assert a.num_cached_tokens(3) == 0


def test_appended_tokens_register_the_block_when_it_fills() -> None:
    a = BlockAllocator(8, 2, prefix_caching=True)
    a.allocate(0, [1, 2, 3])
    assert a.block_hash(1) is None
    a.append(0, [4])
    assert a.block_hash(1) == hash_block(hash_block(None, [1, 2]), [3, 4])
    assert a.allocate(1, [1, 2, 3, 4]) == [0, 1]
    assert a.num_cached_tokens(1) == 4


def test_a_hit_on_a_free_cached_block_takes_it_out_of_the_middle_of_the_queue() -> None:
    a = BlockAllocator(6, 2, prefix_caching=True)
    a.allocate(0, [1, 2, 3, 4])  # [0, 1]
    a.free(0)  # queue 2 3 4 5 1 0, blocks 1 and 0 still cached
    assert a.num_free_blocks() == 6, "cached free blocks count as free"
    assert a.allocate(1, [1, 2, 7]) == [0, 2], "hit on 0 (from the tail), 7 from the head"
    assert a.ref_count(0) == 1
    assert a.num_free_blocks() == 4
    assert a.allocate(2, [5] * 8) == [3, 4, 5, 1], "the queue lost 0 from its middle, nothing else"


def test_eviction_takes_a_freed_prompts_last_block_first() -> None:
    a = BlockAllocator(8, 2, prefix_caching=True)
    prompt = [1, 2, 3, 4, 5, 6]
    a.allocate(0, prompt)  # [0, 1, 2]
    a.free(0)  # queue 3 4 5 6 7 2 1 0
    a.allocate(1, [9] * 10)  # [3, 4, 5, 6, 7]
    assert a.allocate(2, [8, 8]) == [2], "the head is the prompt's last block"
    assert a.block_hash(2) == hash_block(None, [8, 8]), "reuse evicted the old hash"
    a.free(1)  # queue 1 0 7 6 5 4 3
    assert a.allocate(3, prompt) == [0, 1, 7], "the prefix survived: two hits, one new block"
    assert a.num_cached_tokens(3) == 4


def test_evicted_block_no_longer_hits() -> None:
    a = BlockAllocator(2, 2, prefix_caching=True)
    a.allocate(0, [1, 2])
    a.free(0)  # queue 1 0
    a.allocate(1, [3, 4, 5, 6])  # takes 1 then 0: evicts (1, 2)
    a.free(1)
    assert a.allocate(2, [1, 2]) == [0]
    assert a.num_cached_tokens(2) == 0, "an evicted block must not hit"


def test_failed_allocate_with_hits_changes_nothing() -> None:
    a = BlockAllocator(4, 2, prefix_caching=True)
    a.allocate(0, [1, 2, 3, 4])  # [0, 1]
    a.free(0)  # queue 2 3 1 0
    a.allocate(1, [7, 7])  # [2], queue 3 1 0
    before = [a.block_hash(b) for b in range(4)], a.num_free_blocks()
    with pytest.raises(OutOfBlocks):
        a.allocate(2, [1, 2, 3, 4, 5, 6, 7, 8, 9])  # 2 hits + 3 new > 3 free
    assert ([a.block_hash(b) for b in range(4)], a.num_free_blocks()) == before
    assert a.allocate(3, [1, 2, 3, 4]) == [0, 1], "the cached blocks still hit"


def test_a_second_block_with_the_same_prefix_stays_unregistered() -> None:
    a = BlockAllocator(8, 2, prefix_caching=True)
    a.allocate(0, [1])
    a.allocate(1, [1])
    a.append(0, [2])
    a.append(1, [2])
    assert a.block_hash(0) == hash_block(None, [1, 2])
    assert a.block_hash(1) is None, "block 0 already holds this hash"
    a.free(0)
    assert a.allocate(2, [1, 2]) == [0]


def test_fork_carries_the_partial_block_so_the_child_hashes_its_own_blocks() -> None:
    a = BlockAllocator(8, 2, prefix_caching=True)
    a.allocate(0, [1, 2, 3])
    a.fork(0, 1)
    assert a.append(1, [9]) == [(1, 2)]
    assert a.block_hash(2) == hash_block(hash_block(None, [1, 2]), [3, 9])
    assert a.allocate(2, [1, 2, 3, 9, 5]) == [0, 2, 3]


# -- the K/V storage -------------------------------------------------------------------


def test_slot_mapping_worked_example() -> None:
    assert slot_mapping([5, 2], 0, 4, 2) == [10, 11, 4, 5]
    assert slot_mapping([5, 2, 7], 3, 6, 2) == [5, 14, 15]


def test_block_tables_tensor_pads_with_block_zero() -> None:
    t = block_tables_tensor([[3, 1], [2], []])
    assert t.tolist() == [[3, 1], [2, 0], [0, 0]]
    assert t.dtype == torch.long
    assert block_tables_tensor([]).shape == (0, 0)


def _run_engine_steps(device: str, dtype: torch.dtype) -> None:
    """Prompts, a fork, decode steps with copy-on-write: paged cache vs contiguous."""
    torch.manual_seed(0)
    n_layers, n_kv, head_dim, n_heads, bs = 2, 2, 8, 4, 4
    a = BlockAllocator(64, bs)
    cache = PagedKVCache(n_layers, 64, bs, n_kv, head_dim, dtype=dtype, device=device)
    prompts = {0: 7, 1: 12, 2: 1}
    max_len = 40
    ref_k = torch.zeros(n_layers, 4, max_len, n_kv, head_dim, dtype=dtype, device=device)
    ref_v = torch.zeros_like(ref_k)  # [layers, seq, pos, n_kv, hd]
    lens: dict[int, int] = {}

    def write(seq: int, start: int, n: int) -> None:
        slots = torch.tensor(slot_mapping(a.block_table(seq), start, start + n, bs), device=device)
        for layer in range(n_layers):
            k = torch.randn(n, n_kv, head_dim, dtype=dtype, device=device)
            v = torch.randn(n, n_kv, head_dim, dtype=dtype, device=device)
            cache.write(layer, slots, k, v)
            ref_k[layer, seq, start : start + n] = k
            ref_v[layer, seq, start : start + n] = v
        lens[seq] = start + n

    for seq, n in prompts.items():
        a.allocate(seq, [0] * n)
        write(seq, 0, n)
    a.fork(1, 3)  # seq 3 shares seq 1's 12 tokens; its K/V so far is seq 1's
    ref_k[:, 3], ref_v[:, 3] = ref_k[:, 1], ref_v[:, 1]
    lens[3] = lens[1]
    a.fork(2, 4)  # a fork of a sequence with a half-empty block: the next steps copy
    n_copies = 0
    for _ in range(9):
        for seq in (0, 1, 2, 3):
            copies = a.append(seq, [0])
            n_copies += len(copies)
            cache.copy_blocks(copies)
            write(seq, lens[seq], 1)
    a.free(4)
    assert n_copies >= 1, "the test must exercise copy-on-write"

    seqs = [0, 1, 2, 3]
    tables = block_tables_tensor([a.block_table(s) for s in seqs], device=device)
    lengths = torch.tensor([lens[s] for s in seqs], device=device)
    for layer in range(n_layers):
        k, v, valid = cache.gather(layer, tables, lengths)  # [batch, width, n_kv, hd]
        assert k.device.type == torch.device(device).type
        assert valid.sum().item() == sum(lens[s] for s in seqs)
        for i, s in enumerate(seqs):
            n = lens[s]
            assert torch.equal(k[i, :n], ref_k[layer, s, :n]), f"layer {layer} seq {s}: K differs"
            assert torch.equal(v[i, :n], ref_v[layer, s, :n]), f"layer {layer} seq {s}: V differs"
        # One decode query per sequence, GQA: attention over the gathered K/V, padding masked.
        q = torch.randn(len(seqs), n_heads, 1, head_dim, dtype=dtype, device=device)
        rep = n_heads // n_kv
        paged = F.scaled_dot_product_attention(
            q,
            k.transpose(1, 2).repeat_interleave(rep, 1),  # [batch, heads, width, hd]
            v.transpose(1, 2).repeat_interleave(rep, 1),
            attn_mask=valid[:, None, None, :],
        )
        for i, s in enumerate(seqs):
            n = lens[s]
            contiguous = F.scaled_dot_product_attention(
                q[i : i + 1],
                ref_k[layer, s, :n].transpose(0, 1)[None].repeat_interleave(rep, 1),
                ref_v[layer, s, :n].transpose(0, 1)[None].repeat_interleave(rep, 1),
            )
            tol = 2e-2 if dtype == torch.bfloat16 else 1e-5
            torch.testing.assert_close(paged[i : i + 1], contiguous, atol=tol, rtol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_paged_cache_matches_a_contiguous_cache(device: str) -> None:
    _run_engine_steps(device, torch.float32)


@pytest.mark.cuda
@needs_cuda
def test_paged_cache_matches_a_contiguous_cache_in_bf16_on_cuda() -> None:
    _run_engine_steps("cuda", torch.bfloat16)


def test_copy_blocks_copies_every_layer_in_order() -> None:
    cache = PagedKVCache(3, 4, 2, 1, 1)
    for b in range(4):
        cache.k[:, b] = b
        cache.v[:, b] = -b
    cache.copy_blocks([(1, 2), (2, 3)])  # chained: 3 must receive block 1's data
    assert cache.k[:, 3].eq(1).all() and cache.v[:, 3].eq(-1).all()
    assert cache.k[:, 2].eq(1).all() and cache.k[:, 0].eq(0).all()


def test_write_uses_flat_slots() -> None:
    cache = PagedKVCache(1, 3, 2, 1, 1)
    cache.write(0, torch.tensor([5, 0]), torch.tensor([[[7.0]], [[8.0]]]), torch.zeros(2, 1, 1))
    assert cache.k[0, 2, 1].item() == 7.0, "slot 5 is block 2, offset 1"
    assert cache.k[0, 0, 0].item() == 8.0
