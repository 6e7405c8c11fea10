"""Penalties: repetition by the sign of the logit, frequency per count, presence once,
only for the tokens each row generated, whatever else is in the batch."""

from __future__ import annotations

import math

import solution as sol
import torch
from oracle import penalised_row, randn
from torch import Tensor


def penalise(
    x: Tensor, histories: list[list[int]], rep: list[float], pres: list[float], freq: list[float]
) -> Tensor:
    out = sol.apply_penalties(
        x.clone(), histories, torch.tensor(rep), torch.tensor(pres), torch.tensor(freq)
    )
    assert isinstance(out, Tensor) and out.shape == x.shape, (
        f"apply_penalties must return the logits [batch, vocab] {tuple(x.shape)}"
    )
    return out


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits() -> None:
    x = torch.tensor([[2.0, -1.0, 0.5, -3.0, 1.0]])
    got = penalise(x, [[0, 1, 3]], [2.0], [0.0], [0.0])
    want = [1.0, -2.0, 0.5, -6.0, 1.0]
    assert got[0].tolist() == want, (
        f"repetition_penalty 2 on tokens 0, 1, 3 of {x[0].tolist()} must give {want} "
        f"(positive / 2, negative * 2, unseen unchanged); got {got[0].tolist()}"
    )


def test_repetition_penalty_never_makes_a_seen_token_more_likely() -> None:
    x = randn(4, 40, seed=3, scale=2.0)
    histories = [[1, 2, 3, 5, 8], [0, 39, 20], [7, 7, 7], list(range(0, 40, 3))]
    got = penalise(x, histories, [1.5, 1.2, 3.0, 1.1], [0.0] * 4, [0.0] * 4)
    for r, h in enumerate(histories):
        for token in set(h):
            before, after = float(x[r, token]), float(got[r, token])
            assert after <= before, (
                f"row {r}: token {token} was generated before; with repetition_penalty > 1 "
                f"its logit {before:.4f} must not grow, got {after:.4f}"
            )
            assert after < before or before == 0.0, (
                f"row {r}: token {token}'s logit {before:.4f} must shrink, got {after:.4f}"
            )


def test_frequency_penalty_scales_with_count_and_presence_counts_once() -> None:
    x = torch.zeros(1, 6)
    got = penalise(x, [[2, 2, 2, 4]], [1.0], [0.5], [0.25])
    want = [0.0, 0.0, -1.25, 0.0, -0.75, 0.0]
    assert got[0].tolist() == want, (
        f"token 2 seen 3 times, token 4 once; presence 0.5, frequency 0.25 must give "
        f"{want}, got {got[0].tolist()}"
    )


def test_a_row_without_history_is_not_penalised_next_to_rows_with_history() -> None:
    x = randn(3, 16, seed=4)
    histories = [[], [3, 3, 9, 1, 15], [0]]
    got = penalise(x, histories, [1.8, 1.8, 1.8], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5])
    assert torch.equal(got[0], x[0]), (
        "row 0 has generated nothing: none of its logits may change, but tokens "
        f"{(got[0] != x[0]).nonzero().flatten().tolist()} did"
    )


def test_each_row_is_penalised_only_for_its_own_tokens() -> None:
    x = randn(3, 12, seed=5, scale=2.0)
    histories = [[1], [5, 6, 7, 8, 9, 10, 11], [2, 2]]
    got = penalise(x, histories, [1.3, 1.3, 1.3], [0.7, 0.7, 0.7], [0.4, 0.4, 0.4])
    for r, h in enumerate(histories):
        untouched = [t for t in range(12) if t not in h]
        changed = [t for t in untouched if got[r, t] != x[r, t]]
        assert not changed, (
            f"row {r} generated only {sorted(set(h))}, yet tokens {changed} were penalised "
            f"(its batch holds a longer history of {len(histories[1])} tokens)"
        )


def test_penalties_match_the_oracle_on_random_histories() -> None:
    g = torch.Generator().manual_seed(6)
    batch, vocab = 6, 30
    x = randn(batch, vocab, seed=7, scale=3.0)
    histories = [
        torch.randint(
            0, vocab, (int(torch.randint(0, 12, (1,), generator=g)),), generator=g
        ).tolist()
        for _ in range(batch)
    ]
    rep = [1.0, 1.3, 2.0, 0.8, 1.1, 1.5]
    pres = [0.0, 0.5, -0.3, 0.2, 1.0, 0.0]
    freq = [0.0, 0.1, 0.4, -0.2, 0.0, 0.7]
    got = penalise(x, histories, rep, pres, freq)
    for r in range(batch):
        params = {
            "repetition_penalty": rep[r],
            "presence_penalty": pres[r],
            "frequency_penalty": freq[r],
        }
        want = penalised_row(x[r].double().tolist(), params, histories[r])
        for t in range(vocab):
            assert math.isclose(float(got[r, t]), want[t], rel_tol=1e-5, abs_tol=1e-5), (
                f"row {r} (history {histories[r]}, {params}): token {t} must be "
                f"{want[t]:.5f} after penalties, got {float(got[r, t]):.5f}"
            )


def test_penalties_of_a_batch_equal_penalties_row_by_row() -> None:
    x = randn(4, 20, seed=8, scale=2.0)
    histories = [[0, 1], [], [4, 4, 4, 4, 4, 4, 19, 0, 3], [7]]
    rep, pres, freq = [1.2, 1.4, 1.6, 2.0], [0.3, 0.6, 0.9, 0.1], [0.2, 0.2, 0.1, 0.0]
    together = penalise(x, histories, rep, pres, freq)
    for r in range(4):
        alone = penalise(x[r : r + 1], [histories[r]], [rep[r]], [pres[r]], [freq[r]])
        assert torch.allclose(together[r], alone[0], atol=1e-6), (
            f"row {r} penalised in a batch of 4 differs from the same row alone at tokens "
            f"{(together[r] != alone[0]).nonzero().flatten().tolist()}"
        )
