"""verify_greedy: the target's argmax, first maximal index on ties, the token at a
mismatch, the bonus argmax, per-row lengths; against a row-by-row loop."""

from __future__ import annotations

import oracle
import pytest
import solution as sol
import torch
from torch import Tensor


def peaked(best: list[list[int]], vocab: int) -> Tensor:
    """Logits [B, n, vocab]: 1.0 at best[b][i], -1.0 elsewhere."""
    logits = torch.full((len(best), len(best[0]), vocab), -1.0)
    for b, row in enumerate(best):
        for i, t in enumerate(row):
            logits[b, i, t] = 1.0
    return logits


def run(
    draft: list[list[int]], logits: Tensor, lengths: list[int] | None = None
) -> tuple[list[list[int]], list[int]]:
    n_t = None if lengths is None else torch.tensor(lengths)
    out = sol.verify_greedy(torch.tensor(draft), logits, n_t)
    assert isinstance(out, tuple) and len(out) == 2, "verify_greedy returns (tokens, n_accepted)"
    tokens, n = out
    assert tokens.dtype == torch.int64 and n.dtype == torch.int64, (
        f"tokens and n_accepted are int64, got {tokens.dtype} and {n.dtype}"
    )
    return tokens.tolist(), n.tolist()


def test_greedy_worked_example() -> None:
    logits = peaked([[3, 4, 5, 6], [3, 9, 5, 6]], 10)
    tokens, n = run([[3, 4, 5], [3, 4, 5]], logits)
    assert n == [3, 1], f"expected n_accepted [3, 1], got {n}"
    assert tokens == [[3, 4, 5, 6], [3, 9, -1, -1]], (
        f"expected [[3, 4, 5, 6], [3, 9, -1, -1]], got {tokens}"
    )


def test_a_mismatch_at_the_first_position_emits_only_the_targets_argmax() -> None:
    tokens, n = run([[1, 2]], peaked([[0, 2, 3]], 4))
    assert (tokens, n) == ([[0, -1, -1]], [0]), (
        f"draft 1 is not the argmax 0: expected ([[0, -1, -1]], [0]), got {(tokens, n)}"
    )


def test_ties_go_to_the_first_maximal_index() -> None:
    logits = torch.zeros(2, 2, 4)
    logits[:, 0, [1, 3]] = 2.0  # tokens 1 and 3 tie at position 0
    logits[:, 1, [0, 2]] = 5.0  # tokens 0 and 2 tie at position 1
    tokens, n = run([[1], [3]], logits)
    assert n == [1, 0], f"the target's choice at a tie is the first maximal index: got {n}"
    assert tokens == [[1, 0], [1, -1]], f"expected [[1, 0], [1, -1]], got {tokens}"


def test_per_row_lengths_take_the_argmax_after_each_rows_last_draft() -> None:
    best = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]
    tokens, n = run([[1, 2, 3], [1, 2, -1], [-1, -1, -1]], peaked(best, 5), [3, 2, 0])
    assert n == [3, 2, 0], f"every drafted token matches: n_accepted = lengths, got {n}"
    assert tokens == [[1, 2, 3, 4], [1, 2, 3, -1], [1, -1, -1, -1]], (
        f"the extra token is the argmax at position lengths[b]; got {tokens}"
    )


def test_lengths_default_to_every_draft_token() -> None:
    tokens, n = run([[1, 2], [1, 0]], peaked([[1, 2, 0], [1, 2, 0]], 3))
    assert (tokens, n) == ([[1, 2, 0], [1, 2, -1]], [2, 1]), f"got {(tokens, n)}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_greedy_matches_a_row_by_row_loop(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(11)
    rows, k, vocab = 400, 4, 5
    logits = torch.randn(rows, k + 1, vocab, generator=g).round().to(dtype)  # many ties
    choice = logits.float().argmax(-1)
    # Drafts agree with the target 70% of the time so that rows run long.
    other = torch.randint(0, vocab, (rows, k), generator=g)
    draft = torch.where(torch.rand(rows, k, generator=g) < 0.7, choice[:, :k], other)
    lengths = torch.randint(0, k + 1, (rows,), generator=g)
    draft[torch.arange(k) >= lengths[:, None]] = -1
    tokens, n = run(draft.tolist(), logits, lengths.tolist())
    for b in range(rows):
        want, want_n = oracle.greedy(draft[b].tolist(), logits[b].float(), int(lengths[b]))
        assert (tokens[b], n[b]) == (want, want_n), (
            f"row {b}: draft {draft[b].tolist()}, length {int(lengths[b])}, target argmax "
            f"{choice[b].tolist()} (first maximal index): expected {want} with "
            f"n_accepted {want_n}, got {tokens[b]} with {n[b]}"
        )


@pytest.mark.parametrize("bad", [[3], [-1]])
def test_lengths_outside_zero_to_k_raise_value_error(bad: list[int]) -> None:
    with pytest.raises(ValueError):
        sol.verify_greedy(torch.tensor([[0, 1]]), torch.zeros(1, 3, 4), torch.tensor(bad))
        pytest.fail(f"lengths {bad} with k = 2 must raise ValueError")
