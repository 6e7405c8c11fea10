"""Seeded random serving traces against the dict-of-lists model (oracle.py).

Each trace mixes new requests (prompts drawn from a few shared prefixes, so prefix
hits happen), appends, batched decode steps, forks and frees. After every step each
live sequence must gather exactly its rows, and the block accounting must add up:
ref counts equal the tables holding each block, free + held = the pool.
"""

from __future__ import annotations

import random
from typing import Any

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
)

NUM_BLOCKS = 96
STEPS = 40
MAX_LIVE = 6


def _run_trace(seed: int, block_size: int, prefix_caching: bool) -> None:
    rng = random.Random(seed)
    cache = sol.PagedKVCache(NUM_BLOCKS, block_size, H, D, prefix_caching=prefix_caching)
    model = DictOfListsCache()
    shared = [
        [rng.randrange(3) for _ in range(rng.randrange(1, 3 * block_size + 2))] for _ in range(3)
    ]
    log: list[str] = []
    next_id = 0

    def check_slots(seq_ids: list[int], slots: list[int], n_new: list[int]) -> None:
        for s, n in zip(seq_ids, n_new, strict=True):
            length = len(model.tokens(s))
            want = expected_slots(cache.block_table(s), block_size, list(range(length - n, length)))
            got = slots[: len(want)]
            del slots[: len(want)]
            assert got == want, (
                f"{' ; '.join(log)}: sequence {s}'s new tokens went to slots {got}, its table says {want}"
            )

    for step in range(STEPS):
        live = sorted(model.seqs)
        ops = ["add", "append", "decode", "fork", "free"]
        weights = [3, 3, 3, 2, 2] if len(live) < MAX_LIVE else [0, 2, 3, 0, 4]
        op = rng.choices(ops, weights)[0] if live else "add"
        long = [s for s in live if len(model.tokens(s)) > 8 * block_size]
        if long and op in ("append", "decode"):
            op = "free"
        if op == "add":
            prompt = rng.choice(shared)[: rng.randrange(0, 3 * block_size + 2)]
            prompt = prompt + [rng.randrange(3) for _ in range(rng.randrange(0, 2 * block_size))]
            cached = prefill(cache, model, next_id, prompt)
            log.append(f"add({next_id}, {prompt}) -> {cached} cached")
            assert cached % block_size == 0 and (cached < len(prompt) or cached == 0), (
                f"{' ; '.join(log)}: add_sequence must reuse whole blocks and leave the last "
                f"prompt token to compute; it reused {cached} of {len(prompt)}"
            )
            if not prefix_caching:
                assert cached == 0, (
                    f"{' ; '.join(log)}: prefix caching is off, nothing may be reused"
                )
            next_id += 1
        elif op == "append":
            s = rng.choice(live)
            tokens = [rng.randrange(3) for _ in range(rng.randrange(1, 2 * block_size + 1))]
            log.append(f"append({s}, {tokens})")
            slots = extend(cache, model, s, tokens)
            check_slots([s], slots, [len(tokens)])
        elif op == "decode":
            batch_ids = sorted(rng.sample(live, rng.randrange(1, len(live) + 1)))
            tokens = [rng.randrange(3) for _ in batch_ids]
            log.append(f"decode({batch_ids}, {tokens})")
            slots = decode(cache, model, batch_ids, tokens)
            check_slots(batch_ids, slots, [1] * len(batch_ids))
        elif op == "fork":
            parent = rng.choice(live)
            log.append(f"fork({parent}, {next_id})")
            cache.fork(parent, next_id)
            model.fork(parent, next_id)
            next_id += 1
        else:
            s = rng.choice(long or live)
            log.append(f"free({s})")
            cache.free(s)
            model.free(s)
        check_state(
            cache, model, NUM_BLOCKS, block_size, f"step {step}, after {' ; '.join(log[-4:])}"
        )
    for s in sorted(model.seqs):
        cache.free(s)
    assert cache.num_free_blocks() == NUM_BLOCKS, (
        f"with every sequence freed all {NUM_BLOCKS} blocks must be free; {cache.num_free_blocks()} are"
    )


@pytest.mark.parametrize(
    ("seed", "block_size"), [(0, 1), (1, 2), (2, 3), (3, 4), (4, 2), (5, 4), (6, 3)]
)
def test_random_trace_with_prefix_caching_matches_a_dict_of_lists_model(
    seed: int, block_size: int
) -> None:
    _run_trace(seed, block_size, prefix_caching=True)


@pytest.mark.parametrize(("seed", "block_size"), [(10, 2), (11, 4)])
def test_random_trace_without_prefix_caching_matches_a_dict_of_lists_model(
    seed: int, block_size: int
) -> None:
    _run_trace(seed, block_size, prefix_caching=False)


def test_arbitrary_rows_survive_forks_and_copies() -> None:
    """Rows that are not a function of the prefix (prefix caching off): forks and
    copy-on-write must move whatever was stored, bit for bit."""
    gen = torch.Generator().manual_seed(3)
    cache: Any = sol.PagedKVCache(64, 4, H, D, prefix_caching=False)
    model = DictOfListsCache()
    rng = random.Random(3)
    cache.add_sequence(0, [])
    model.add(0)
    live, next_id = [0], 1
    for step in range(30):
        s = rng.choice(live)
        if rng.random() < 0.3 and len(live) < 5:
            cache.fork(s, next_id)
            model.fork(s, next_id)
            live.append(next_id)
            next_id += 1
            continue
        n = rng.randrange(1, 4)
        k = torch.randn(n, H, D, generator=gen)
        v = torch.randn(n, H, D, generator=gen)
        cache.append(s, [0] * n, k, v)
        model.append(s, [0] * n, k, v)
        check_state(cache, model, 64, 4, f"step {step}: random rows appended to sequence {s}")
