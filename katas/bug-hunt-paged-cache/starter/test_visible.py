"""The repro cases attached to the report. Run with `drill test`.

K/V rows here are a stand-in for a model's: row p depends on every token up to p,
so reusing a row computed for another prefix shows up as a wrong value.
"""

from __future__ import annotations

import pytest
import torch
from solution import OutOfBlocks, PagedKVCache

H, D = 2, 3


def rows(tokens: list[int], start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """K and V rows of tokens[start:], [n, H, D] each."""
    code, ks, vs = 0, [], []
    for p, token in enumerate(tokens):
        code = (code * 131 + token + 7) % 1_000_003
        if p >= start:
            base = code * 0.0137 + torch.arange(H * D, dtype=torch.float64) * 1.31
            ks.append(torch.sin(base).reshape(H, D).float())
            vs.append(torch.sin(base + 1.0).reshape(H, D).float())
    if not ks:
        return torch.zeros(0, H, D), torch.zeros(0, H, D)
    return torch.stack(ks), torch.stack(vs)


def start(cache: PagedKVCache, seq_id: int, prompt: list[int]) -> int:
    """Add a request and append the K/V of what the prefix cache did not have."""
    cached = cache.add_sequence(seq_id, prompt)
    cache.append(seq_id, prompt[cached:], *rows(prompt, cached))
    return cached


def extend(cache: PagedKVCache, seq_id: int, history: list[int], tokens: list[int]) -> None:
    cache.append(seq_id, tokens, *rows(history + tokens, len(history)))


def assert_holds(cache: PagedKVCache, seq_id: int, tokens: list[int]) -> None:
    k, v = cache.gather(seq_id)
    want_k, want_v = rows(tokens)
    assert k.shape == want_k.shape, (
        f"sequence {seq_id}: gathered {tuple(k.shape)}, expected {tuple(want_k.shape)}"
    )
    assert torch.equal(k, want_k), f"sequence {seq_id}: wrong keys"
    assert torch.equal(v, want_v), f"sequence {seq_id}: wrong values"


def test_prompt_round_trips_through_gather() -> None:
    cache = PagedKVCache(8, 4, H, D)
    prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    assert start(cache, 0, prompt) == 0
    assert cache.block_table(0) == [0, 1, 2]
    assert_holds(cache, 0, prompt)


def test_sequence_of_exactly_one_block_reads_back() -> None:
    cache = PagedKVCache(4, 16, H, D)
    prompt = list(range(16))
    start(cache, 0, prompt)
    assert_holds(cache, 0, prompt)


def test_forked_beams_keep_their_own_history() -> None:
    cache = PagedKVCache(8, 4, H, D)
    prompt = [1, 2, 3, 4, 5, 6]
    start(cache, 0, prompt)
    cache.fork(0, 1)
    extend(cache, 1, prompt, [7])
    extend(cache, 0, prompt, [8])
    assert_holds(cache, 0, [*prompt, 8])
    assert_holds(cache, 1, [*prompt, 7])


def test_batched_decode_step_matches_appending_each_token_alone() -> None:
    batched, alone = PagedKVCache(8, 4, H, D), PagedKVCache(8, 4, H, D)
    history = {0: [1, 2, 3], 1: [4, 5, 6, 7, 8]}
    for s, prompt in history.items():
        start(batched, s, prompt)
        start(alone, s, prompt)
    for token in range(5):
        slots = batched.slot_mapping([0, 1], [token, token])
        new = [rows(history[s] + [token], len(history[s])) for s in (0, 1)]
        batched.write(slots, torch.cat([k for k, _ in new]), torch.cat([v for _, v in new]))
        for s in (0, 1):
            extend(alone, s, history[s], [token])
            history[s].append(token)
    for s in (0, 1):
        assert_holds(batched, s, history[s])
        assert_holds(alone, s, history[s])


def test_many_requests_with_parallel_samples_fit_in_a_small_pool() -> None:
    cache = PagedKVCache(8, 4, H, D)
    for request in range(200):
        prompt = [request % 7, 1, 2, 3, 4, 5]
        start(cache, 0, prompt)
        cache.fork(0, 1)  # n = 2 samples
        extend(cache, 1, prompt, [6])
        extend(cache, 0, prompt, [7])
        cache.free(0)
        cache.free(1)
    assert cache.num_free_blocks() == 8


def test_prompt_that_starts_like_another_prompts_middle() -> None:
    cache = PagedKVCache(8, 4, H, D)
    first = [1, 1, 1, 1, 2, 2, 2, 2, 3]
    second = [2, 2, 2, 2, 4]
    start(cache, 0, first)
    start(cache, 1, second)
    assert_holds(cache, 1, second)


def test_shared_prefix_survives_when_its_first_request_finishes() -> None:
    cache = PagedKVCache(5, 4, H, D)
    prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    start(cache, 0, prompt)
    start(cache, 1, [5, 5, 5, 5])
    follow_up = [*prompt[:8], 0]
    assert start(cache, 2, follow_up) == 8
    cache.free(0)
    cache.free(1)
    start(cache, 3, [6] * 8)
    assert_holds(cache, 2, follow_up)


def test_repeated_prompt_after_a_busy_period() -> None:
    cache = PagedKVCache(5, 4, H, D)
    prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    start(cache, 0, prompt)
    cache.free(0)
    start(cache, 1, [7] * 20)
    cache.free(1)
    start(cache, 2, [6] * 5)
    start(cache, 3, prompt)
    assert_holds(cache, 3, prompt)
    assert_holds(cache, 2, [6] * 5)


def test_prompt_sent_twice_still_leaves_its_last_token_to_compute() -> None:
    cache = PagedKVCache(8, 4, H, D)
    prompt = [2, 7, 1, 8, 2, 8, 1, 8]
    start(cache, 0, prompt)
    cached = start(cache, 1, prompt)
    assert cached == 4, (
        f"expected the first block reused and the last token left to compute, got {cached}"
    )
    assert_holds(cache, 1, prompt)
    with pytest.raises(OutOfBlocks):
        start(cache, 2, list(range(40)))
