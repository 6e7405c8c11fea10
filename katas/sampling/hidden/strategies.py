"""Hypothesis strategies shared by the hidden suite.

Logits are multiples of 1/4 in [-8, 8], with the odd -inf: exact in float16 and
bfloat16, ties are common (so top-k's tie rule gets exercised) and distinct values
never round together, so the float64 oracle and a float32 solution agree on top-k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import Phase
from hypothesis import strategies as st
from torch import Tensor

TEMPERATURES = [0.0, 0.25, 0.5, 0.8, 1.0, 1.5, 3.0]

# No shrinking: a wrong solution fails at once on the first bad example instead of
# spending a minute minimising it, and the assertion message already names the one
# row that went wrong and its parameters.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


@dataclass
class Case:
    logits: Tensor  # [batch, vocab] float32
    temperature: float | Tensor
    top_k: int | Tensor
    top_p: float | Tensor
    min_p: float | Tensor


def _logit(n: int) -> float:
    return float("-inf") if n == -33 else n / 4  # -33 stands for -inf (1 value in 66)


@st.composite
def logits(draw: st.DrawFn, max_batch: int = 4, max_vocab: int = 40) -> Tensor:
    batch = draw(st.integers(1, max_batch))
    vocab = draw(st.integers(1, max_vocab))
    cells = draw(st.lists(st.integers(-33, 32), min_size=batch * vocab, max_size=batch * vocab))
    return torch.tensor([_logit(n) for n in cells], dtype=torch.float32).reshape(batch, vocab)


def probabilities() -> st.SearchStrategy[float]:
    """A top_p or min_p: the edges 0 and 1, round values, and anything between."""
    return st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), st.floats(0.0, 1.0))


@st.composite
def scalar_cases(draw: st.DrawFn) -> Case:
    x = draw(logits())
    vocab = x.shape[1]
    return Case(
        logits=x,
        temperature=draw(st.sampled_from(TEMPERATURES)),
        top_k=draw(st.integers(0, vocab + 2)),
        top_p=draw(probabilities()),
        min_p=draw(st.one_of(st.just(0.0), probabilities())),
    )


@st.composite
def per_row_cases(draw: st.DrawFn) -> Case:
    x = draw(logits(max_batch=6))
    batch, vocab = x.shape
    rows = st.lists
    return Case(
        logits=x,
        temperature=torch.tensor(
            draw(rows(st.sampled_from(TEMPERATURES), min_size=batch, max_size=batch))
        ),
        top_k=torch.tensor(
            draw(rows(st.integers(0, vocab + 2), min_size=batch, max_size=batch)),
            dtype=torch.int64,
        ),
        top_p=torch.tensor(draw(rows(probabilities(), min_size=batch, max_size=batch))),
        min_p=torch.tensor(draw(rows(probabilities(), min_size=batch, max_size=batch))),
    )
