"""reference.speculative: the emitted tokens follow the target exactly (chi-square per
position over many independent rows), the acceptance count matches its closed form, and
greedy verification keeps exactly the target's argmax tokens."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare

from reference.speculative import expected_accepted, verify, verify_greedy

V, K, ROWS = 6, 3, 200_000


def distributions(seed: int, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n, V, generator=g, dtype=torch.float64) * 1.5, -1)


def draws(q: torch.Tensor, rows: int, seed: int) -> torch.Tensor:
    """Draft tokens `[rows, k]`: position i drawn from q[i], independently."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.multinomial(qi, rows, True, generator=g) for qi in q], 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_emitted_position_is_distributed_as_the_target(seed: int) -> None:
    p, q = distributions(seed, K + 1), distributions(seed + 100, K)
    draft = draws(q, ROWS, seed)
    g = torch.Generator().manual_seed(seed)
    tokens, _ = verify(draft, q.expand(ROWS, K, V), p.expand(ROWS, K + 1, V), generator=g)
    for i in range(K + 1):
        got = tokens[:, i][tokens[:, i] >= 0]  # rows that reached position i
        counts = torch.bincount(got, minlength=V).double()
        expected = p[i] * counts.sum()
        assert chisquare(counts.numpy(), expected.numpy()).pvalue > 1e-4, (i, counts, expected)


def test_resampling_from_the_target_instead_of_the_residual_is_detectable() -> None:
    """The statistical test above has the power to see the classic bug."""
    p, q = distributions(3, K + 1), distributions(103, K)
    draft = draws(q, ROWS, 3)
    g = torch.Generator().manual_seed(3)
    # One position, the rejected rows' extra token drawn from p rather than max(0, p - q):
    u = torch.rand(ROWS, generator=g, dtype=torch.float64)
    x = draft[:, 0]
    accepted = u * q[0, x] < p[0, x]
    wrong = torch.where(accepted, x, torch.multinomial(p[0], ROWS, True, generator=g))
    counts = torch.bincount(wrong, minlength=V).double()
    assert chisquare(counts.numpy(), (p[0] * ROWS).numpy()).pvalue < 1e-6


def test_mean_accepted_tokens_match_the_closed_form() -> None:
    p, q = distributions(7, K + 1), distributions(107, K)
    draft = draws(q, ROWS, 7)
    g = torch.Generator().manual_seed(7)
    _, n = verify(draft, q.expand(ROWS, K, V), p.expand(ROWS, K + 1, V), generator=g)
    want = expected_accepted(p[:K], q)
    standard_error = n.double().std().item() / ROWS**0.5
    assert abs(n.double().mean().item() - want) < 5 * standard_error


def test_identical_distributions_accept_everything_and_add_a_bonus() -> None:
    p = distributions(9, K + 1)
    draft = draws(p[:K], 1000, 9)
    tokens, n = verify(draft, p[:K].expand(1000, K, V), p.expand(1000, K + 1, V))
    assert bool((n == K).all()) and bool((tokens >= 0).all())
    assert torch.equal(tokens[:, :K], draft)
    assert expected_accepted(p[:K], p[:K]) == pytest.approx(K)


def test_per_row_draft_lengths_stop_each_row_at_its_own_length() -> None:
    p = distributions(11, K + 1).expand(3, K + 1, V)
    draft = torch.tensor([[1, 2, 3], [4, 5, -1], [-1, -1, -1]])
    lengths = torch.tensor([3, 2, 0])
    tokens, n = verify(draft, p[:, :K], p, lengths)  # q = p: every drafted token accepted
    assert n.tolist() == [3, 2, 0]
    assert tokens[0, :3].tolist() == [1, 2, 3] and tokens[0, 3] >= 0
    assert tokens[1, :2].tolist() == [4, 5] and tokens[1, 2] >= 0 and tokens[1, 3] == -1
    assert tokens[2, 0] >= 0 and tokens[2, 1:].tolist() == [-1, -1, -1]


def test_greedy_keeps_draft_tokens_while_they_are_the_targets_argmax() -> None:
    logits = torch.full((2, 4, 10), -1.0)
    for b, best in enumerate([[3, 4, 5, 6], [3, 9, 5, 6]]):
        for i, t in enumerate(best):
            logits[b, i, t] = 1.0
    draft = torch.tensor([[3, 4, 5], [3, 4, 5]])
    tokens, n = verify_greedy(draft, logits)
    assert n.tolist() == [3, 1]
    assert tokens.tolist() == [[3, 4, 5, 6], [3, 9, -1, -1]]


def test_lengths_outside_the_draft_are_rejected() -> None:
    with pytest.raises(ValueError, match="draft lengths"):
        verify_greedy(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 3, 4), torch.tensor([3]))
