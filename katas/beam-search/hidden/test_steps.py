"""The stepping interface: what each step returns, done rows, dtypes, misuse."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import EOS, EXAMPLE, LENGTHS, PROMPT, compare, drive, reference_run, table_model


def prompts_ids(prompts: list[list[int]], k: int) -> torch.Tensor:
    return torch.tensor(prompts).repeat_interleave(k, dim=0)


def test_first_step_expands_beam_zero_only() -> None:
    """Every beam holds the prompt: a search that expands them all returns one candidate
    num_beams times."""
    g = torch.Generator().manual_seed(5)
    row = torch.randn(1, 12, generator=g)
    search = sol.BeamSearch(1, 3, EOS, 4)
    tokens, idx = search.step(prompts_ids([[5, 6]], 3), row.repeat(3, 1))
    want = torch.log_softmax(row[0], -1)
    want[EOS] = -torch.inf
    want_tokens = want.topk(3).indices.tolist()
    assert tokens.tolist() == want_tokens and idx.tolist() == [0, 0, 0], (
        f"step 1 continues beam 0 only, with its 3 best non-EOS tokens {want_tokens} "
        f"from beam index 0; got tokens {tokens.tolist()} from beams {idx.tolist()}"
    )


def test_running_beams_are_the_best_non_eos_candidates_in_rank_order() -> None:
    search = sol.BeamSearch(1, 2, EOS, 5)
    fn = table_model({3: EXAMPLE}, 3)
    seqs = prompts_ids([PROMPT], 2)
    tokens, idx = search.step(seqs, fn(seqs))
    assert tokens.tolist() == [1, 2] and idx.tolist() == [0, 0], (
        "step 1 of the worked example: EOS is rank 1, so the running beams are tokens "
        f"[1, 2] (ranks 0 and 2), both from beam 0; got {tokens.tolist()} from {idx.tolist()}"
    )
    seqs = torch.cat([seqs[idx], tokens[:, None]], dim=1)
    tokens, idx = search.step(seqs, fn(seqs))
    assert tokens.tolist() == [2, 3] and idx.tolist() == [0, 0], (
        "step 2: the non-EOS candidates in rank order are [1, 2] then [1, 3], both "
        f"continuing beam 0 ([.., 1]); got tokens {tokens.tolist()} from {idx.tolist()}"
    )


def test_beam_indices_are_flat_indices_into_the_whole_batch() -> None:
    search = sol.BeamSearch(3, 2, EOS, 5)
    fn = table_model({3: EXAMPLE, 2: LENGTHS, 1: EXAMPLE}, 3)
    seqs = prompts_ids([PROMPT, [2, 1, 2], [1, 1, 2]], 2)
    _, idx = search.step(seqs, fn(seqs))
    assert idx.tolist() == [0, 0, 2, 2, 4, 4], (
        "beam j of batch row b is row b * num_beams + j of the input: step 1 continues each "
        f"row's beam 0, i.e. [0, 0, 2, 2, 4, 4]; got {idx.tolist()}"
    )


def test_a_done_row_returns_eos_and_its_own_slots() -> None:
    """Row 0 is done after step 2 (early stopping), row 1 goes on."""
    search = sol.BeamSearch(2, 2, EOS, 4, 1.0, True)
    fn = table_model({3: EXAMPLE, 2: LENGTHS}, 3)
    seqs = prompts_ids([PROMPT, [2, 1, 2]], 2)
    for _ in range(2):
        tokens, idx = search.step(seqs, fn(seqs))
        seqs = torch.cat([seqs[idx], tokens[:, None]], dim=1)
    assert not search.is_done, "row 1 is still running after step 2: is_done must be False"
    tokens, idx = search.step(seqs, fn(seqs))
    assert tokens.tolist()[:2] == [EOS, EOS] and idx.tolist()[:2] == [0, 1], (
        "a row done before a step returns EOS for each slot and the slot's own index "
        f"([0, 1] for row 0); got tokens {tokens.tolist()[:2]}, indices {idx.tolist()[:2]}"
    )


def test_rows_finish_at_different_steps_and_keep_their_own_hypotheses() -> None:
    prompts = [PROMPT, [2, 1, 2]]
    fn = table_model({3: EXAMPLE, 2: LENGTHS}, 3)
    got = drive(sol.BeamSearch(2, 2, EOS, 4, 1.0, True), fn, prompts, 2, 4, 2)
    want = reference_run(fn, prompts, 2, 4, early_stopping=True, num_return_sequences=2)
    compare(got, want, "two rows, one done after step 2")
    alone = drive(sol.BeamSearch(1, 2, EOS, 4, 1.0, True), fn, [PROMPT], 2, 4, 2)
    assert got.sequences[:2] == alone.sequences, (
        f"row 0's hypotheses must not depend on row 1: alone {alone.sequences}, in a batch "
        f"{got.sequences[:2]}"
    )


def test_unnormalised_logits_are_log_softmaxed_per_beam() -> None:
    """Step 2's two beams get logits offset by very different constants: only log-probs
    compare across beams."""
    base = table_model({3: EXAMPLE}, 3)

    def fn(ids: torch.Tensor) -> torch.Tensor:
        logits = base(ids)
        return logits + torch.arange(ids.shape[0], dtype=torch.float32)[:, None] * 7.0 + 3.0

    got = drive(sol.BeamSearch(1, 2, EOS, 4, 1.0, False), fn, [PROMPT], 2, 4, 2)
    want = reference_run(base, [PROMPT], 2, 4, num_return_sequences=2)
    compare(got, want, "logits shifted per beam")


def test_bfloat16_logits_are_scored_in_float32() -> None:
    g = torch.Generator().manual_seed(11)
    table = torch.randn(64, 40, generator=g) * 3

    def fn(ids: torch.Tensor) -> torch.Tensor:
        return table[ids.sum(dim=1) % 64]

    got = drive(sol.BeamSearch(2, 3, EOS, 3), fn, [[1, 2], [3, 4]], 3, 3, 3, torch.bfloat16)
    want = reference_run(fn, [[1, 2], [3, 4]], 3, 3, num_return_sequences=3,
                         logits_dtype=torch.bfloat16)  # fmt: skip
    compare(got, want, "bfloat16 logits (upcast, then log_softmax in float32)")


def test_is_done_starts_false_and_finalize_refuses_before_the_end() -> None:
    search = sol.BeamSearch(1, 2, EOS, 3)
    assert search.is_done is False, f"a new search is not done, is_done gave {search.is_done!r}"
    with pytest.raises(RuntimeError):
        search.finalize()


def test_step_after_done_raises_runtime_error() -> None:
    search = sol.BeamSearch(1, 2, EOS, 1)
    seqs = prompts_ids([PROMPT], 2)
    search.step(seqs, torch.randn(2, 8))
    assert search.is_done is True, "after max_new_tokens = 1 step the search is done"
    with pytest.raises(RuntimeError):
        search.step(seqs, torch.randn(2, 8))


@pytest.mark.parametrize("n", [0, 3])
def test_finalize_rejects_num_return_sequences_outside_one_to_num_beams(n: int) -> None:
    search = sol.BeamSearch(1, 2, EOS, 1)
    search.step(prompts_ids([PROMPT], 2), torch.randn(2, 8))
    with pytest.raises(ValueError):
        search.finalize(n)


def test_step_rejects_the_wrong_number_of_rows() -> None:
    search = sol.BeamSearch(2, 2, EOS, 3)
    with pytest.raises(ValueError):
        search.step(prompts_ids([PROMPT], 2), torch.randn(2, 8))  # one row's beams only
    with pytest.raises(ValueError):
        search.step(prompts_ids([PROMPT, PROMPT], 2), torch.randn(3, 8))


@pytest.mark.parametrize("bad", [(0, 2, 3), (1, 0, 3), (1, 2, 0)])
def test_constructor_rejects_sizes_below_one(bad: tuple[int, int, int]) -> None:
    batch, beams, new = bad
    with pytest.raises(ValueError):
        sol.BeamSearch(batch, beams, EOS, new)
