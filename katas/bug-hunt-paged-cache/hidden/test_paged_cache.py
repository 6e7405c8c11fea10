"""Hand-worked cases: layout, slots, fork and copy-on-write, freeing, prefix caching, errors."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import (
    D,
    DictOfListsCache,
    H,
    check_state,
    decode,
    expected_slots,
    extend,
    prefill,
    prefix_rows,
)

# ------------------------------------------------------------------------- layout


def test_pools_have_the_documented_shape_dtype_and_start_free() -> None:
    cache = sol.PagedKVCache(5, 4, H, D, torch.float16)
    for name in ("k_cache", "v_cache"):
        pool = getattr(cache, name)
        assert tuple(pool.shape) == (5, 4, H, D), (
            f"{name} must be [num_blocks, block_size, n_kv_heads, head_dim] = (5, 4, {H}, {D}), "
            f"got {tuple(pool.shape)}"
        )
        assert pool.dtype == torch.float16, (
            f"{name} must have the dtype asked for, got {pool.dtype}"
        )
    assert cache.num_free_blocks() == 5
    assert [cache.ref_count(b) for b in range(5)] == [0] * 5


@pytest.mark.parametrize("n_tokens", [1, 3, 5, 7, 10])
def test_append_then_gather_returns_every_row_in_order(n_tokens: int) -> None:
    cache, model = sol.PagedKVCache(8, 4, H, D), DictOfListsCache()
    prefill(cache, model, 0, list(range(n_tokens)))
    check_state(cache, model, 8, 4, f"after a prompt of {n_tokens} tokens")


@pytest.mark.parametrize(("block_size", "n_tokens"), [(4, 4), (4, 8), (4, 12), (16, 16), (16, 32)])
def test_sequences_filling_whole_blocks_gather_every_row(block_size: int, n_tokens: int) -> None:
    cache, model = sol.PagedKVCache(4, block_size, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1] * n_tokens)
    check_state(cache, model, 4, block_size, f"{n_tokens} tokens in blocks of {block_size}")


def test_tokens_appended_one_at_a_time_across_block_boundaries_gather_back() -> None:
    cache, model = sol.PagedKVCache(6, 3, H, D), DictOfListsCache()
    prefill(cache, model, 0, [])
    for t in range(10):
        extend(cache, model, 0, [t % 4])
        check_state(cache, model, 6, 3, f"after {t + 1} single-token appends")


def test_an_empty_sequence_gathers_zero_rows_and_holds_no_block() -> None:
    cache = sol.PagedKVCache(3, 2, H, D)
    assert cache.add_sequence(7, []) == 0
    k, v = cache.gather(7)
    assert tuple(k.shape) == (0, H, D) and tuple(v.shape) == (0, H, D), (
        f"an empty sequence gathers [0, {H}, {D}]; got {tuple(k.shape)}, {tuple(v.shape)}"
    )
    assert cache.block_table(7) == [] and cache.num_free_blocks() == 3


def test_append_returns_the_slots_its_block_table_implies() -> None:
    cache, model = sol.PagedKVCache(8, 4, H, D), DictOfListsCache()
    prefill(cache, model, 0, [3, 1, 4])
    slots = extend(cache, model, 0, [1, 5, 9, 2, 6])
    table = cache.block_table(0)
    want = expected_slots(table, 4, list(range(3, 8)))
    assert slots == want, f"tokens 3..7 with table {table}: slots {want}, got {slots}"
    pool = cache.k_cache.reshape(-1, H, D)
    k, _ = prefix_rows([3, 1, 4, 1, 5, 9, 2, 6])
    for pos, slot in zip(range(3, 8), want, strict=True):
        assert torch.equal(pool[slot], k[pos]), f"flat slot {slot} must hold the key of token {pos}"


def test_stored_rows_are_cast_to_the_pool_dtype() -> None:
    cache = sol.PagedKVCache(4, 4, H, D, torch.bfloat16, prefix_caching=False)
    cache.add_sequence(0, [])
    k, v = prefix_rows([5, 6, 7, 8, 9])
    cache.append(0, [5, 6, 7, 8, 9], k, v)
    got_k, got_v = cache.gather(0)
    assert got_k.dtype == torch.bfloat16, f"gather returns the pool's dtype, got {got_k.dtype}"
    assert torch.equal(got_k, k.to(torch.bfloat16)) and torch.equal(got_v, v.to(torch.bfloat16))


# --------------------------------------------------------------------- decode step


def test_batched_decode_step_equals_appending_each_sequence_alone() -> None:
    batched, alone = sol.PagedKVCache(16, 4, H, D), sol.PagedKVCache(16, 4, H, D)
    m1, m2 = DictOfListsCache(), DictOfListsCache()
    prompts = {0: [1, 2, 3], 1: [4, 4, 4, 4], 2: [5, 6, 7, 8, 9, 1, 2]}
    for s, p in prompts.items():
        prefill(batched, m1, s, p)
        prefill(alone, m2, s, p)
    for step in range(6):
        tokens = [step, step + 1, step + 2]
        slots = decode(batched, m1, [0, 1, 2], tokens)
        for s, t in zip([0, 1, 2], tokens, strict=True):
            extend(alone, m2, s, [t])
        for s in range(3):
            pos = len(m1.tokens(s)) - 1
            want = expected_slots(batched.block_table(s), 4, [pos])[0]
            assert slots[s] == want, (
                f"step {step}: sequence {s}'s slot must be {want}, got {slots[s]}"
            )
            got_b, got_a = batched.gather(s)[0], alone.gather(s)[0]
            assert torch.equal(got_b, got_a), (
                f"step {step}: sequence {s} gathers different keys after a batched step "
                "than after appending its token alone"
            )
    check_state(batched, m1, 16, 4, "after 6 batched decode steps")


def test_decode_step_rejects_a_sequence_listed_twice() -> None:
    cache = sol.PagedKVCache(4, 2, H, D)
    cache.add_sequence(0, [])
    with pytest.raises(ValueError):
        cache.slot_mapping([0, 0], [1, 2])


# --------------------------------------------------------------- fork, copy-on-write


@pytest.mark.parametrize("prompt_len", [1, 2, 3, 5, 6, 7])
def test_forked_sequences_diverge_without_touching_each_other(prompt_len: int) -> None:
    cache, model = sol.PagedKVCache(12, 4, H, D), DictOfListsCache()
    prefill(cache, model, 0, list(range(1, prompt_len + 1)))
    cache.fork(0, 1)
    model.fork(0, 1)
    check_state(cache, model, 12, 4, "right after fork(0, 1)")
    extend(cache, model, 1, [7])
    extend(cache, model, 0, [8])
    extend(cache, model, 1, [9, 9, 9])
    extend(cache, model, 0, [6])
    check_state(cache, model, 12, 4, f"prompt of {prompt_len}, after the fork diverged")


def test_fork_shares_every_block_until_a_write() -> None:
    cache, model = sol.PagedKVCache(8, 4, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1, 2, 3, 4, 5, 6])
    table = cache.block_table(0)
    free = cache.num_free_blocks()
    cache.fork(0, 1)
    model.fork(0, 1)
    assert cache.block_table(1) == table, f"the child starts with the parent's table {table}"
    assert [cache.ref_count(b) for b in table] == [2, 2], "both blocks are held by two tables"
    assert cache.num_free_blocks() == free, "a fork takes no block"
    extend(cache, model, 1, [7])
    child = cache.block_table(1)
    assert child[0] == table[0] and child[1] != table[1], (
        f"the child's first write copies only the shared, partially filled last block: "
        f"parent {table}, child {child}"
    )
    assert cache.block_table(0) == table, "copy-on-write must not change the parent's table"
    assert cache.ref_count(table[1]) == 1, "the copied block is the parent's alone again"
    extend(cache, model, 0, [8])
    assert cache.block_table(0) == table, "the parent now owns its last block: no copy"
    check_state(cache, model, 8, 4, "after both sides wrote")


def test_fork_at_a_block_boundary_copies_nothing() -> None:
    cache, model = sol.PagedKVCache(8, 4, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1, 2, 3, 4, 5, 6, 7, 8])
    cache.fork(0, 1)
    model.fork(0, 1)
    free = cache.num_free_blocks()
    extend(cache, model, 1, [9])
    extend(cache, model, 0, [10])
    assert cache.num_free_blocks() == free - 2, (
        "with full shared blocks each side only opens one new block; no copy is needed"
    )
    check_state(cache, model, 8, 4, "after diverging at a block boundary")


def test_beam_search_forks_and_frees_keep_every_beam_intact() -> None:
    cache, model = sol.PagedKVCache(40, 3, H, D), DictOfListsCache()
    prefill(cache, model, 0, [2, 7, 1, 8])
    beams, next_id = [0], 1
    for step in range(8):
        children = []
        for b in beams:
            cache.fork(b, next_id)
            model.fork(b, next_id)
            children.append(next_id)
            next_id += 1
        decode(cache, model, beams + children, [step * 2 + i % 3 for i in range(2 * len(beams))])
        everyone = beams + children
        keep = everyone[step % 2 :: 2][:3]
        for s in everyone:
            if s not in keep:
                cache.free(s)
                model.free(s)
        beams = keep
        check_state(cache, model, 40, 3, f"beam step {step}")


def test_freeing_every_sequence_after_forks_returns_the_whole_pool() -> None:
    cache, model = sol.PagedKVCache(10, 4, H, D), DictOfListsCache()
    for round_ in range(30):
        prefill(cache, model, 0, [round_, 1, 2, 3, 4, 5])
        cache.fork(0, 1)
        model.fork(0, 1)
        extend(cache, model, 1, [6, 7])
        extend(cache, model, 0, [8])
        check_state(cache, model, 10, 4, f"request {round_}")
        cache.free(1)
        cache.free(0)
        model.free(1)
        model.free(0)
        assert cache.num_free_blocks() == 10, (
            f"after request {round_} every sequence is freed, so all 10 blocks must be free; "
            f"{cache.num_free_blocks()} are"
        )


def test_freeing_the_parent_keeps_the_childs_shared_blocks() -> None:
    cache, model = sol.PagedKVCache(6, 4, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1, 2, 3, 4, 5, 6])
    cache.fork(0, 1)
    model.fork(0, 1)
    cache.free(0)
    model.free(0)
    prefill(cache, model, 2, [9] * 12)  # takes free blocks; must not take the child's
    extend(cache, model, 1, [7, 8, 9])
    check_state(cache, model, 6, 4, "after freeing the parent and reusing free blocks")


# ------------------------------------------------------------------ prefix caching


def test_a_repeated_prompt_reuses_its_full_blocks_but_not_its_last_token() -> None:
    cache, model = sol.PagedKVCache(12, 4, H, D), DictOfListsCache()
    prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    assert prefill(cache, model, 0, prompt) == 0, "nothing is cached in a new pool"
    assert prefill(cache, model, 1, prompt) == 8, "both full blocks of the 10-token prompt hit"
    assert cache.block_table(1)[:2] == cache.block_table(0)[:2], "the hits share the blocks"
    whole = prompt[:8]
    assert prefill(cache, model, 2, whole) == 4, (
        "an 8-token prompt whose two blocks are cached reuses only the first: the last "
        "token must still run through the model"
    )
    check_state(cache, model, 12, 4, "after three prompts sharing a prefix")


def test_only_a_matching_whole_prefix_is_reused() -> None:
    cache, model = sol.PagedKVCache(16, 2, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1, 2, 3, 4, 5])
    cached = prefill(cache, model, 1, [3, 4, 5])
    assert cached == 0, (
        "tokens (3, 4) are cached as the second block of another prompt; as the first block "
        f"of a new prompt their K/V differ, so nothing may be reused (got {cached} tokens)"
    )
    prefill(cache, model, 2, [1, 2, 1, 2, 7])
    check_state(cache, model, 16, 2, "after prompts sharing blocks but not prefixes")


def test_a_prefix_outlives_the_request_that_computed_it() -> None:
    cache, model = sol.PagedKVCache(5, 4, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert prefill(cache, model, 1, [1, 2, 3, 4, 5, 6, 7, 8, 0]) == 8
    cache.free(0)
    model.free(0)
    prefill(cache, model, 2, [4] * 4)
    check_state(cache, model, 5, 4, "after the prefix's first owner finished")
    cache.free(1)
    model.free(1)
    check_state(cache, model, 5, 4, "after both sharers finished")


def test_a_finished_prompt_is_not_matched_once_its_blocks_are_reused() -> None:
    cache, model = sol.PagedKVCache(5, 4, H, D), DictOfListsCache()
    prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    prefill(cache, model, 0, prompt)
    cache.free(0)
    model.free(0)
    prefill(cache, model, 1, [7] * 20)  # takes every block of the pool
    cache.free(1)
    model.free(1)
    prefill(cache, model, 2, [6] * 5)  # holds blocks the prompt once had
    cached = prefill(cache, model, 3, prompt)
    assert cached == 0, (
        f"the prompt's blocks were reused by others; {cached} tokens came back as cached"
    )
    check_state(cache, model, 5, 4, "after the same prompt came back")


def test_a_freed_prompt_is_forgotten_even_before_its_blocks_are_reused() -> None:
    cache, model = sol.PagedKVCache(6, 2, H, D), DictOfListsCache()
    prompt = [1, 2, 3, 4, 5]
    prefill(cache, model, 0, prompt)
    cache.free(0)
    model.free(0)
    cached = prefill(cache, model, 1, prompt)
    assert cached == 0, f"a freed sequence's blocks leave the prefix index; {cached} tokens hit"
    check_state(cache, model, 6, 2, "after the freed prompt came back")


def test_with_prefix_caching_off_nothing_is_shared() -> None:
    cache, model = sol.PagedKVCache(8, 2, H, D, prefix_caching=False), DictOfListsCache()
    assert prefill(cache, model, 0, [1, 2, 3, 4, 5]) == 0
    assert prefill(cache, model, 1, [1, 2, 3, 4, 5]) == 0, "prefix_caching=False reuses nothing"
    assert not set(cache.block_table(0)) & set(cache.block_table(1))
    check_state(cache, model, 8, 2, "two equal prompts without prefix caching")


# ----------------------------------------------------------------- running out, errors


def test_append_that_runs_out_changes_nothing() -> None:
    cache, model = sol.PagedKVCache(3, 2, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1, 2, 3])
    with pytest.raises(sol.OutOfBlocks):
        extend(cache, model, 0, [4, 5, 6, 7])  # needs 2 new blocks, 1 free
    check_state(cache, model, 3, 2, "after an append that ran out")
    cache.fork(0, 1)
    model.fork(0, 1)
    prefill(cache, model, 2, [8])
    with pytest.raises(sol.OutOfBlocks):
        extend(cache, model, 1, [9])  # the shared last block needs a copy, no block is free
    check_state(cache, model, 3, 2, "after a copy-on-write that ran out")


def test_decode_step_that_runs_out_reserves_nothing() -> None:
    cache, model = sol.PagedKVCache(4, 2, H, D), DictOfListsCache()
    prefill(cache, model, 0, [1, 2])
    prefill(cache, model, 1, [3, 4])
    prefill(cache, model, 2, [5])
    with pytest.raises(sol.OutOfBlocks):
        cache.slot_mapping([2, 0, 1], [6, 7, 8])  # 0 and 1 each open a block; 1 is free
    check_state(cache, model, 4, 2, "after a decode step that ran out")
    decode(cache, model, [2, 0], [6, 7])
    check_state(cache, model, 4, 2, "after the retried, smaller step")


def test_duplicate_ids_and_wrong_shapes_are_rejected() -> None:
    cache = sol.PagedKVCache(4, 2, H, D)
    cache.add_sequence(0, [])
    with pytest.raises(ValueError):
        cache.add_sequence(0, [])
    cache.add_sequence(1, [])
    with pytest.raises(ValueError):
        cache.fork(0, 1)
    with pytest.raises(ValueError):
        cache.append(0, [1, 2], torch.zeros(1, H, D), torch.zeros(1, H, D))
    with pytest.raises(KeyError):
        cache.free(5)
