"""A few examples from the prompt. `drill test` runs these; the grade runs many more."""

from __future__ import annotations

import torch
from solution import filter_logits, sample

INF = float("inf")


def test_worked_example() -> None:
    x = torch.tensor([[2.0, 1.0, 1.0, 0.5, -INF]])
    out = filter_logits(x, temperature=0.5, top_k=2, top_p=0.8, min_p=0.1)
    assert torch.equal(out, torch.tensor([[4.0, 2.0, 2.0, -INF, -INF]]))
    out = filter_logits(x, temperature=0.5, top_k=2, top_p=0.75, min_p=0.1)
    assert torch.equal(out, torch.tensor([[4.0, -INF, -INF, -INF, -INF]]))


def test_top_k_keeps_ties() -> None:
    out = filter_logits(torch.tensor([[3.0, 1.0, 2.0, 1.0, 0.0]]), top_k=3)
    assert torch.isfinite(out).tolist() == [[True, True, True, True, False]]


def test_top_p_boundary() -> None:
    x = torch.tensor([[0.5, 0.3, 0.2]]).log()
    assert torch.isfinite(filter_logits(x, top_p=0.5)).tolist() == [[True, False, False]]
    assert torch.isfinite(filter_logits(x, top_p=0.55)).tolist() == [[True, True, False]]


def test_greedy_and_seeded_sampling() -> None:
    x = torch.tensor([[1.0, 3.0, 3.0], [0.0, 0.0, 5.0]])
    assert sample(x, temperature=0.0).tolist() == [1, 2]
    a = sample(x, temperature=1.0, generator=torch.Generator().manual_seed(0))
    b = sample(x, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert a.dtype == torch.int64 and torch.equal(a, b)
