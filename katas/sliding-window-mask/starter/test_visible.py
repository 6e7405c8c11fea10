"""A few examples from the prompt. Run with `drill test` (or pytest)."""

from __future__ import annotations

import solution as sol
import torch


def grid(rows: str) -> torch.Tensor:
    """A mask drawn by hand: one string per query row, 'x' allowed, '.' not."""
    return torch.tensor([[c == "x" for c in row.split()] for row in rows.strip().splitlines()])


def test_prefill_window_three() -> None:
    expected = grid(
        """
        x . . . .
        x x . . .
        x x x . .
        . x x x .
        . . x x x
        """
    )
    mask = sol.sliding_window_mask(5, 5, 3)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)


def test_chunk_after_three_cached_tokens() -> None:
    expected = grid(
        """
        . x x x . .
        . . x x x .
        . . . x x x
        """
    )
    assert torch.equal(sol.sliding_window_mask(3, 6, 3, offset=3), expected)


def test_window_none_is_causal() -> None:
    assert torch.equal(
        sol.sliding_window_mask(4, 4, None), torch.ones(4, 4, dtype=torch.bool).tril()
    )


def test_padded_batch() -> None:
    expected = torch.stack([grid("x . .\nx x .\n. x x"), grid("x . .\n. x .\n. . x")])
    assert torch.equal(sol.padded_sliding_window_mask(torch.tensor([3, 1]), 2), expected)
