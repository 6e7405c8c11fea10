"""A few examples from the prompt. Run with `drill test` (or pytest)."""

from __future__ import annotations

import math

import solution as sol
import torch


def test_every_draft_token_is_kept_when_q_equals_p_and_the_bonus_follows() -> None:
    # The target is certain at every position, so each bonus is known in advance.
    chain = [[1, 2, 3, 0], [4, 5, 0, 1], [2, 1, 0, 3]]
    p = torch.nn.functional.one_hot(torch.tensor(chain), 6).float()  # [3, 4, 6]
    draft = torch.tensor([[1, 2, 3], [4, 5, -1], [-1, -1, -1]])
    lengths = torch.tensor([3, 2, 0])
    tokens, n = sol.verify(draft, p[:, :3], p, lengths, generator=torch.Generator().manual_seed(0))
    assert tokens.dtype == torch.int64 and n.dtype == torch.int64
    assert n.tolist() == [3, 2, 0]
    assert tokens.tolist() == [[1, 2, 3, 0], [4, 5, 0, -1], [2, -1, -1, -1]]


def test_after_a_rejection_the_token_comes_from_the_residual() -> None:
    # q = [0.6, 0.4, 0], p = [0.2, 0.5, 0.3]. Token 0 is kept one time in three, token 1
    # always; after a rejection the token comes from [0, 0.1, 0.3] normalised.
    rows = 20_000
    q = torch.tensor([0.6, 0.4, 0.0]).expand(rows, 1, 3)
    p = torch.tensor([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]]).expand(rows, 2, 3)
    g = torch.Generator().manual_seed(1)
    draft = torch.multinomial(q[:, 0], 1, generator=g)  # [rows, 1], drawn from q
    tokens, n = sol.verify(draft, q, p, generator=g)
    after = tokens[n == 0, 0]
    assert int((after == 0).sum()) == 0
    assert abs((after == 2).float().mean().item() - 0.75) < 0.02
    # Overall the first token follows p, not q.
    freq = torch.bincount(tokens[:, 0], minlength=3).float() / rows
    assert torch.allclose(freq, torch.tensor([0.2, 0.5, 0.3]), atol=0.02)


def test_greedy_worked_example() -> None:
    logits = torch.full((2, 4, 10), -1.0)
    for b, best in enumerate([[3, 4, 5, 6], [3, 9, 5, 6]]):
        for i, t in enumerate(best):
            logits[b, i, t] = 1.0
    tokens, n = sol.verify_greedy(torch.tensor([[3, 4, 5], [3, 4, 5]]), logits)
    assert n.tolist() == [3, 1]
    assert tokens.tolist() == [[3, 4, 5, 6], [3, 9, -1, -1]]


def test_expected_accepted_worked_example() -> None:
    p = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]])
    q = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]])  # alpha = [0.5, 0.8]
    assert math.isclose(sol.expected_accepted(p, q), 0.9, rel_tol=1e-6)
