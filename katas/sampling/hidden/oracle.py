"""A slow, obvious oracle: one row at a time, in float64, in plain Python.

It says, for every token, KEEP, DROP or EITHER. EITHER marks a token whose fate rests
on a comparison that float32 rounding may settle either way: a cumulative mass within
TOL of top_p, or a probability ratio within a relative TOL of min_p. The hypothesis
strategies draw logits on a grid (multiples of 1/4), so top-k and ties are exact;
the exact top-p boundary is pinned by hand-worked tests instead.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

KEEP, DROP, EITHER = "keep", "drop", "either"
TOL = 1e-4
NEG_INF = float("-inf")


def expected_row(
    row: list[float], temperature: float, top_k: int, top_p: float, min_p: float
) -> list[str]:
    """The fate of each token of one row under the kata's rules."""
    vocab = len(row)
    if all(v == NEG_INF for v in row):
        return [DROP] * vocab
    if temperature == 0:  # greedy: the max and its ties
        best = max(row)
        return [KEEP if v == best else DROP for v in row]
    y = [v / temperature for v in row]
    fate = [KEEP if v != NEG_INF else DROP for v in y]

    if 0 < top_k < vocab:  # ties with the k-th largest survive
        kth = sorted(y, reverse=True)[top_k - 1]
        fate = [f if v >= kth else DROP for f, v in zip(fate, y, strict=True)]

    alive = [i for i in range(vocab) if fate[i] == KEEP]
    y_max = max(y[i] for i in alive)
    weight = {i: math.exp(y[i] - y_max) for i in alive}  # p_i / p_max
    total = sum(weight.values())

    if top_p < 1.0:  # mass of the strictly more probable survivors must be < top_p
        for i in alive:
            if y[i] == y_max:
                continue  # the most probable token always survives
            before = sum(weight[j] for j in alive if y[j] > y[i]) / total
            if before > top_p + TOL:
                fate[i] = DROP
            elif before >= top_p - TOL:
                fate[i] = EITHER

    if min_p > 0.0:  # p_i >= min_p * p_max
        for i in alive:
            if fate[i] == DROP:
                continue
            if weight[i] < min_p * (1 - TOL):
                fate[i] = DROP
            elif weight[i] <= min_p * (1 + TOL):
                fate[i] = EITHER
    return fate


def _at(value: float | Tensor, i: int) -> float:
    """Row i's value of a parameter given as a number or as a tensor [batch]."""
    return float(value[i]) if isinstance(value, Tensor) else float(value)


def expected(
    logits: Tensor,
    temperature: float | Tensor,
    top_k: int | Tensor,
    top_p: float | Tensor,
    min_p: float | Tensor,
) -> list[list[str]]:
    """expected_row for every row; tensor parameters give one value per row."""
    return [
        expected_row(row, _at(temperature, i), int(_at(top_k, i)), _at(top_p, i), _at(min_p, i))
        for i, row in enumerate(logits.float().tolist())
    ]


def kept(row: Tensor) -> list[int]:
    """Indices of the finite entries of a filtered row."""
    return torch.isfinite(row).nonzero().flatten().tolist()


def check_filtered(
    out: object,
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
) -> None:
    """Assert `out` is what filter_logits must return, with a message a candidate can act on."""
    batch, vocab = logits.shape
    assert isinstance(out, Tensor), f"filter_logits must return a Tensor, got {type(out).__name__}"
    assert tuple(out.shape) == (batch, vocab), (
        f"expected shape {(batch, vocab)}, got {tuple(out.shape)}"
    )
    assert out.dtype == torch.float32, f"expected a float32 result, got {out.dtype}"
    assert not torch.isnan(out).any(), f"the result holds NaN: {out.tolist()}"
    fates = expected(logits, temperature, top_k, top_p, min_p)
    for i, fate in enumerate(fates):
        params = (
            f"temperature={_at(temperature, i)}, top_k={int(_at(top_k, i))}, "
            f"top_p={_at(top_p, i)}, min_p={_at(min_p, i)}"
        )
        must = [j for j, f in enumerate(fate) if f == KEEP]
        never = [j for j, f in enumerate(fate) if f == DROP]
        got = kept(out[i])
        missing = sorted(set(must) - set(got))
        extra = sorted(set(never) & set(got))
        assert not missing and not extra, (
            f"row {i} = {logits[i].tolist()} with {params}: expected kept tokens {must}, "
            f"got {got} (wrongly removed {missing}, wrongly kept {extra})"
        )
        removed = ~torch.isfinite(out[i])
        assert bool((out[i][removed] == NEG_INF).all()), (
            f"row {i}: removed tokens must be -inf, got {out[i][removed].tolist()}"
        )
        t = _at(temperature, i)
        want = logits[i].float() / (1.0 if t == 0 else t)
        close = torch.isclose(out[i][~removed], want[~removed], rtol=1e-5, atol=1e-6)
        if not bool(close.all()):
            j = int((~removed).nonzero().flatten()[int((~close).nonzero()[0])])
            raise AssertionError(
                f"row {i}, token {j}: a surviving token must hold logit / temperature = "
                f"{float(want[j])} (the logit itself when temperature is 0), "
                f"got {float(out[i, j])}"
            )
