"""The batched, cached file against the slow oracle: one sequence, no padding, no cache."""

from __future__ import annotations

import solution as sol
import torch
from oracle import build, prompts


def test_next_token_logits_match_the_oracle() -> None:
    model, oracle = build(sol)
    batch = prompts(20, [1, 4, 9])
    got = sol.logits_for(model, batch)
    assert tuple(got.shape) == (3, 64), (
        f"logits_for: expected shape (3, 64), got {tuple(got.shape)}"
    )
    for row, prompt in enumerate(batch):
        want = oracle.logits(prompt)[-1].float()
        assert torch.allclose(got[row], want, atol=1e-3, rtol=1e-3), (
            f"row {row}: next-token logits differ from the oracle by "
            f"{(got[row] - want).abs().max():.3g}"
        )


def test_greedy_tokens_match_the_oracle_one_prompt_at_a_time() -> None:
    model, oracle = build(sol)
    for prompt in prompts(21, [1, 5, 12]):
        got = sol.generate(model, [prompt], 12)[0]
        want = oracle.greedy(prompt, 12)
        assert got == want, f"prompt {prompt}: expected {want}, got {got}"


def test_batched_greedy_tokens_match_the_oracle() -> None:
    model, oracle = build(sol)
    batch = prompts(22, [2, 9, 5])
    got = sol.generate(model, batch, 12)
    want = [oracle.greedy(p, 12) for p in batch]
    assert got == want, f"lengths {[len(p) for p in batch]}: expected {want}, got {got}"


def test_long_generation_matches_the_oracle() -> None:
    model, oracle = build(sol)
    batch = prompts(23, [3, 6])
    got = sol.generate(model, batch, 40)
    want = [oracle.greedy(p, 40) for p in batch]
    assert got == want, f"40 new tokens: expected {want}, got {got}"


def test_models_with_other_seeds_match_the_oracle() -> None:
    for seed in (1, 2):
        model, oracle = build(sol, seed)
        batch = prompts(24 + seed, [4, 8])
        got = sol.generate(model, batch, 10)
        want = [oracle.greedy(p, 10) for p in batch]
        assert got == want, f"model seed {seed}: expected {want}, got {got}"
