"""Decoding from the KV cache gives the tokens of recomputing the whole sequence."""

from __future__ import annotations

import solution as sol
from oracle import CONFIG, build, prompts


def _check(batch: list[list[int]], steps: int, **kwargs: float) -> None:
    model, _ = build(sol)
    cached = sol.generate(model, batch, steps, **kwargs)
    recomputed = sol.generate(model, batch, steps, use_cache=False, **kwargs)
    assert cached == recomputed, (
        f"lengths {[len(p) for p in batch]}: cached decode {cached}, "
        f"recomputed without the cache {recomputed}"
    )


def test_cached_greedy_matches_recompute_for_one_prompt() -> None:
    _check(prompts(10, [7]), 16)


def test_cached_greedy_matches_recompute_for_a_one_token_prompt() -> None:
    _check(prompts(11, [1]), 16)


def test_cached_greedy_matches_recompute_for_a_ragged_batch() -> None:
    _check(prompts(12, [3, 10, 1, 6]), 14)


def test_cached_sampling_matches_recompute_with_the_same_seed() -> None:
    _check(prompts(13, [5, 2]), 12, temperature=0.8, seed=7)


def test_generation_may_fill_the_context_exactly() -> None:
    batch = prompts(14, [4, 12])
    _check(batch, int(CONFIG["max_seq_len"]) - 12)
