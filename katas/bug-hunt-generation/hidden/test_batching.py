"""Batching and left padding change how the work is done, never which tokens come out."""

from __future__ import annotations

import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import CONFIG, build, one_by_one, prompts

PAD = int(CONFIG["pad_id"])


def test_left_pad_right_aligns_the_prompts_and_masks_the_padding() -> None:
    tokens, mask = sol.left_pad([[5, 6], [1, 2, 3, 4], [9]], PAD)
    want_tokens = [[PAD, PAD, 5, 6], [1, 2, 3, 4], [PAD, PAD, PAD, 9]]
    want_mask = [[False, False, True, True], [True] * 4, [False, False, False, True]]
    assert tokens.dtype == torch.long and tokens.tolist() == want_tokens, (
        f"left_pad tokens: expected {want_tokens}, got {tokens.tolist()}"
    )
    assert mask.dtype == torch.bool and mask.tolist() == want_mask, (
        f"left_pad mask: expected {want_mask}, got {mask.tolist()}"
    )


def test_batch_of_two_matches_each_prompt_alone() -> None:
    model, _ = build(sol)
    batch = prompts(1, [3, 8])
    got = sol.generate(model, batch, 12)
    want = one_by_one(sol, model, batch, max_new_tokens=12)
    assert got == want, f"batch {batch}: batched {got}, one at a time {want}"


def test_ragged_batch_of_five_matches_one_by_one() -> None:
    model, _ = build(sol)
    batch = prompts(2, [1, 6, 2, 11, 4])
    got = sol.generate(model, batch, 15)
    want = one_by_one(sol, model, batch, max_new_tokens=15)
    for row, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"row {row} (prompt length {len(batch[row])}): batched {g}, alone {w}"


def test_adding_a_longer_prompt_does_not_change_the_other_rows() -> None:
    model, _ = build(sol)
    batch = prompts(3, [4, 5])
    longer = prompts(4, [20])
    before = sol.generate(model, batch, 12)
    after = sol.generate(model, [*batch, *longer], 12)
    assert after[:2] == before, f"a 20-token prompt joining changed {before} into {after[:2]}"


def test_row_order_in_the_batch_does_not_matter() -> None:
    model, _ = build(sol)
    batch = prompts(5, [2, 9, 5])
    forward = sol.generate(model, batch, 10)
    backward = sol.generate(model, batch[::-1], 10)
    assert backward[::-1] == forward, f"reversed batch gave {backward[::-1]}, in order {forward}"


def test_equal_length_prompts_match_one_by_one() -> None:
    model, _ = build(sol)
    batch = prompts(6, [6, 6, 6])
    got = sol.generate(model, batch, 10)
    want = one_by_one(sol, model, batch, max_new_tokens=10)
    assert got == want, f"unpadded batch: batched {got}, one at a time {want}"


def test_next_token_logits_do_not_depend_on_left_padding() -> None:
    model, _ = build(sol)
    batch = prompts(7, [2, 7, 13])
    together = sol.logits_for(model, batch)
    for row, prompt in enumerate(batch):
        alone = sol.logits_for(model, [prompt])[0]
        assert torch.allclose(together[row], alone, atol=1e-4, rtol=1e-4), (
            f"row {row} (length {len(prompt)}): logits with padding differ from alone by "
            f"{(together[row] - alone).abs().max():.3g}"
        )


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=4), st.integers(0, 10_000))
def test_any_ragged_batch_matches_one_by_one(lengths: list[int], seed: int) -> None:
    model, _ = build(sol)
    batch = prompts(seed, lengths)
    got = sol.generate(model, batch, 8)
    want = one_by_one(sol, model, batch, max_new_tokens=8)
    assert got == want, f"lengths {lengths}: batched {got}, one at a time {want}"
