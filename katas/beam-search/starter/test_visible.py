"""The worked example from the prompt. Run with `drill test`."""

from __future__ import annotations

import math

import pytest
import torch
from solution import BeamSearch

EOS = 0
PROMPT = [3, 1, 2]
# Next-token probabilities by the generated suffix (vocabulary 4, EOS = 0).
TABLE = {
    (): [0.25, 0.5, 0.15, 0.10],
    (1,): [0.6, 0.05, 0.25, 0.10],
    (2,): [0.7, 0.1, 0.15, 0.05],
}
LATER = [0.95, 0.03, 0.015, 0.005]  # any other suffix


def logits_for(seqs: torch.Tensor) -> torch.Tensor:
    rows = [TABLE.get(tuple(s[len(PROMPT) :]), LATER) for s in seqs.tolist()]
    return torch.tensor(rows).log()


def search(early_stopping: bool) -> tuple[BeamSearch, list[list[int]]]:
    """Drive the worked example; returns the search and each step's next_tokens."""
    bs = BeamSearch(1, 2, EOS, 5, length_penalty=1.0, early_stopping=early_stopping)
    seqs = torch.tensor([PROMPT, PROMPT])
    steps = []
    while not bs.is_done:
        tokens, idx = bs.step(seqs, logits_for(seqs))
        steps.append(tokens.tolist())
        seqs = torch.cat([seqs[idx], tokens[:, None]], dim=1)
    return bs, steps


def test_worked_example_with_early_stopping() -> None:
    bs, steps = search(early_stopping=True)
    assert steps == [[1, 2], [2, 3]]  # EOS candidates never continue
    sequences, scores = bs.finalize(2)
    assert sequences == [[*PROMPT, 1, 0], [*PROMPT, 0]]  # [2, 0] was rank 2: dropped
    want = [(math.log(0.5) + math.log(0.6)) / 2, math.log(0.25) / 1]
    torch.testing.assert_close(scores, torch.tensor(want))


def test_worked_example_without_early_stopping_searches_one_more_step() -> None:
    bs, steps = search(early_stopping=False)
    assert len(steps) == 3
    sequences, scores = bs.finalize(2)
    assert sequences == [[*PROMPT, 1, 0], [*PROMPT, 1, 2, 0]]
    want = [(math.log(0.5) + math.log(0.6)) / 2, (math.log(0.5 * 0.25 * 0.95)) / 3]
    torch.testing.assert_close(scores, torch.tensor(want))


def test_finalize_before_the_end_raises() -> None:
    bs = BeamSearch(1, 2, EOS, 5)
    assert bs.is_done is False
    with pytest.raises(RuntimeError):
        bs.finalize()
