"""A slow, obvious oracle for the sampling pipeline: one row at a time, float64, plain Python.

`expected_row` follows the stated order (penalties, temperature, top-k, top-p, min-p)
and says, for every token, its processed logit and whether it is KEPT, DROPPED or
EITHER. EITHER marks a token whose fate rests on a comparison that float32 rounding
may settle either way (a mass within TOL of top_p, a probability ratio within TOL of
min_p); tests skip such tokens, or rows holding them, where they would decide a verdict.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

KEEP, DROP, EITHER = "keep", "drop", "either"
TOL = 1e-4
NEG_INF = float("-inf")

DEFAULTS: dict[str, Any] = {
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "repetition_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "seed": None,
}


@dataclass
class Row:
    values: list[float]  # processed logits (penalised, divided by temperature), all tokens
    fate: list[str]  # KEEP, DROP or EITHER per token

    def kept(self) -> list[int]:
        return [i for i, f in enumerate(self.fate) if f == KEEP]

    def certain(self) -> bool:
        return EITHER not in self.fate

    def logprob(self, token: int) -> float:
        """log-softmax over the kept tokens, at `token` (a row without EITHER)."""
        live = [self.values[i] for i in self.kept()]
        top = max(live)
        lse = top + math.log(sum(math.exp(v - top) for v in live))
        return self.values[token] - lse

    def probs(self) -> list[float]:
        live = set(self.kept())
        top = max(self.values[i] for i in live)
        w = [math.exp(v - top) if i in live else 0.0 for i, v in enumerate(self.values)]
        total = sum(w)
        return [x / total for x in w]


def penalised_row(row: list[float], params: dict[str, Any], history: list[int]) -> list[float]:
    """Step 1 alone: repetition, then frequency and presence, token by token."""
    p = {**DEFAULTS, **params}
    out = list(row)
    for token, n in Counter(history).items():
        v = out[token]
        v = v / p["repetition_penalty"] if v > 0 else v * p["repetition_penalty"]
        out[token] = v - p["frequency_penalty"] * n - p["presence_penalty"]
    return out


def expected_row(row: list[float], params: dict[str, Any], history: list[int]) -> Row:
    p = {**DEFAULTS, **params}
    t = p["temperature"] if p["temperature"] > 0 else 1.0
    y = [v / t for v in penalised_row(row, p, history)]
    vocab = len(y)
    fate = [KEEP] * vocab

    k = p["top_k"]
    if 0 < k < vocab:  # ties with the k-th largest survive
        kth = sorted(y, reverse=True)[k - 1]
        fate = [KEEP if v >= kth else DROP for v in y]

    alive = [i for i in range(vocab) if fate[i] != DROP]
    y_max = max(y[i] for i in alive)
    weight = {i: math.exp(y[i] - y_max) for i in alive}
    total = sum(weight.values())

    if p["top_p"] < 1.0:  # the mass of the strictly more probable survivors must be < p
        for i in alive:
            before = sum(weight[j] for j in alive if y[j] > y[i]) / total
            if abs(before - p["top_p"]) <= TOL:
                fate[i] = EITHER
            elif before > p["top_p"]:
                fate[i] = DROP

    if p["min_p"] > 0.0:  # p_i / p_max = weight[i]: normalisation cancels
        for i in alive:
            if fate[i] == DROP:
                continue
            if abs(weight[i] - p["min_p"]) <= TOL * max(p["min_p"], 1e-3):
                fate[i] = EITHER
            elif weight[i] < p["min_p"]:
                fate[i] = DROP
    return Row(y, fate)


def expected(x: Tensor, params: list[dict[str, Any]], histories: list[list[int]]) -> list[Row]:
    return [
        expected_row(row, p, h)
        for row, p, h in zip(x.double().tolist(), params, histories, strict=True)
    ]


def randn(*shape: int, seed: int, scale: float = 1.0) -> Tensor:
    """Seeded normal logits: the same inputs on every run, so the same grade."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def check_processed(got: Tensor, want: list[Row], what: str) -> None:
    """`got` [batch, vocab] float32 against the oracle: every certain fate, every kept value."""
    assert got.dtype == torch.float32, f"{what}: processed logits must be float32, got {got.dtype}"
    assert got.shape[0] == len(want), f"{what}: {got.shape[0]} rows, expected {len(want)}"
    for r, (row, exp) in enumerate(zip(got.tolist(), want, strict=True)):
        for i, (v, f) in enumerate(zip(row, exp.fate, strict=True)):
            if f == KEEP:
                assert v != NEG_INF, (
                    f"{what}: row {r} token {i} must survive the filters (processed logit "
                    f"{exp.values[i]:.4f}), but came back -inf"
                )
                assert abs(v - exp.values[i]) <= 1e-4 * max(1.0, abs(exp.values[i])), (
                    f"{what}: row {r} token {i} must be {exp.values[i]:.5f} after penalties "
                    f"and temperature, got {v:.5f}"
                )
            elif f == DROP:
                assert v == NEG_INF, (
                    f"{what}: row {r} token {i} must be removed by the filters, but came "
                    f"back as {v:.4f}; tokens kept should be {exp.kept()}"
                )
