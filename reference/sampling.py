"""Sampling from a batch of logits: temperature, top-k, top-p (nucleus), min-p.

Conventions (the project's, where public implementations disagree):

- Order: temperature, then top-k, then top-p, then min-p. Temperature 0 is greedy.
- top-k keeps every token whose logit is >= the k-th largest (ties kept, so more than
  k may survive); k=0 or k>=vocab disables it.
- top-p keeps the smallest set of most probable tokens (probabilities renormalised
  over the top-k survivors) whose cumulative probability reaches p: token j survives
  iff the mass of the tokens ranked before it is < p. The most probable token always
  survives, and so does every token tied with the last one kept (as with top-k, a tie
  is never split). p=1.0 disables it.
- min-p keeps tokens with probability >= min_p * (max probability).
- Tokens already at -inf have probability 0 and stay at -inf. A row that is all -inf
  comes back all -inf from `filter_logits`; `sample` refuses it (ValueError).
- Work is done in float32 whatever the input dtype, and `filter_logits` returns
  float32. The input is never modified.

Every filter is a cutoff. Each one keeps an "upper set" of the row (all tokens whose
logit is >= some value), so applying them one after another keeps the tokens above
the largest of the cutoffs:

    top-k   the k-th largest logit
    top-p   the logit of the last token kept by the cumulative-probability rule
    min-p   max + log(min_p)      (p_i >= min_p * p_max  <=>  x_i - x_max >= log(min_p))
    greedy  the max

Only top-p needs anything sorted, and only among the top-k survivors: with k=50 and a
32k vocabulary, `torch.topk` plus a cumulative sum over 50 values replaces sorting the
whole row (far cheaper; docs/benchmarks.md), and the cutoffs never need scattering back into
vocabulary order: one comparison against the final cutoff masks the row.

Worked example, one row, temperature 0.5, top_k 2, top_p 0.8, min_p 0.1:

    logits            [ 2.0,   1.0,   1.0,   0.5,  -inf]
    / temperature     [ 4.0,   2.0,   2.0,   1.0,  -inf]
    top-k cutoff      2.0 (the 2nd largest); the tie at 2.0 survives: 3 tokens
    probabilities     [0.787, 0.106, 0.106]    over the 3 survivors (e^4, e^2, e^2)
    mass before each  [0.0,   0.787, 0.787]    all < 0.8: top-p keeps all 3
    min-p             0.106 >= 0.1 * 0.787: all 3 stay
    filtered          [ 4.0,   2.0,   2.0,  -inf,  -inf]

With top_p 0.75 instead, the mass before token 1 (0.787) is not < 0.75, so token 1
and its tie go: only token 0 is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["check_parameters", "filter_logits", "greedy_tokens", "sample"]

NEG_INF = float("-inf")

# A parameter as the code uses it: a Python number for the whole batch, or a column
# [batch, 1] that broadcasts against [batch, vocab].
Column = float | Tensor


@dataclass
class _Filtered:
    """What the filters computed for a batch; shared by `filter_logits` and `sample`."""

    x: Tensor  # [batch, vocab] float32, temperature applied; a private copy
    cutoff: Tensor | None  # [batch, 1]: keep x >= cutoff (None: keep everything)
    greedy: Tensor | None  # [batch] bool: rows with temperature 0 (None: no such row)
    # The top candidates sorted by decreasing logit, when top-k or top-p needed them:
    # values and vocabulary ids, both [batch, m]. None when no filter needed them, or
    # when a tie of the k-th logit outside the window survived (then a draw must look
    # at the whole row).
    window: tuple[Tensor, Tensor] | None


def filter_logits(
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
) -> Tensor:
    """Temperature-scaled float32 logits [batch, vocab] with removed tokens at -inf.

    `logits` is [batch, vocab] float32/float16/bfloat16; each parameter is a Python
    number or a tensor [batch] with one value per row. Greedy rows (temperature 0) keep
    their largest logit, unscaled, and every token tied with it.
    """
    f = _filter(logits, *_params(logits, temperature, top_k, top_p, min_p))
    if f.cutoff is None:
        return f.x
    return f.x.masked_fill_(f.x < f.cutoff, NEG_INF)


def sample(
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One token id per row, int64 [batch], drawn from the filtered distribution.

    Greedy rows (temperature 0) return their argmax (the lowest index among ties).
    Draws come from `generator` (on the logits' device) when given, so the same
    generator state gives the same tokens. Raises ValueError for a row with no
    finite logit.
    """
    params = _params(logits, temperature, top_k, top_p, min_p)
    if not isinstance(params[0], Tensor) and params[0] == 0:
        # Every row greedy: no filter can remove a row's max, so the argmax of the raw
        # logits is the answer (the order of float16/bfloat16 values survives float32).
        # One kernel where filtering would copy and reduce the row: a batch-1 decode
        # step samples after every forward.
        tokens = greedy_tokens(logits)
        _refuse_rows(tokens >= 0)
        return tokens
    f = _filter(logits, *params)
    _refuse_rows(torch.isfinite(f.window[0][:, 0] if f.window is not None else f.x.amax(-1)))

    if f.window is not None:
        values, ids = f.window  # [batch, m]: draw a position in the window, map it back
        tokens = ids.gather(1, _draw(values, f.cutoff, generator)).squeeze(1)
    else:
        tokens = _draw(f.x, f.cutoff, generator).squeeze(1)
    if f.greedy is not None:
        tokens = torch.where(f.greedy, f.x.argmax(dim=-1), tokens)
    return tokens


def greedy_tokens(logits: Tensor) -> Tensor:
    """int64 [batch]: each row's first maximal index (the tie rule of temperature 0), or
    -1 where that maximum is not finite, a row `sample` refuses.

    Plain tensor ops with no host sync, so a compiled decode step can take it inside
    its graph (`reference.engine`).
    """
    tokens = logits.argmax(dim=-1)
    best = logits.gather(1, tokens[:, None]).squeeze(1)
    return torch.where(best.isfinite(), tokens, -1)


def check_parameters(temperature: float, top_k: int, top_p: float, min_p: float) -> None:
    """Raise ValueError, as `sample` would, unless `sample` accepts these numbers."""
    _params(torch.zeros(1, 1), temperature, top_k, top_p, min_p)


def _draw(values: Tensor, cutoff: Tensor | None, generator: torch.Generator | None) -> Tensor:
    """Per row [batch, 1], the position of one draw from softmax(values) over values >= cutoff.

    Inverse CDF: one uniform number per row and a binary search in the cumulative
    weights, rather than one random number per token (Gumbel-max) or
    torch.multinomial's copies. The running sum is float64 so that a token of
    probability 1e-7 in a 32k row keeps its share.
    """
    weights = (values - values.amax(dim=-1, keepdim=True)).exp_()  # [batch, m], in [0, 1]
    if cutoff is not None:
        weights.masked_fill_(values < cutoff, 0.0)
    cdf = weights.cumsum(dim=-1, dtype=torch.float64)  # [batch, m]
    total = cdf[:, -1:]  # [batch, 1]
    u = torch.rand(total.shape, generator=generator, dtype=torch.float64, device=values.device)
    # u < 1, yet u * total may round up to total: stay strictly below it so that the
    # search lands on a position of positive weight.
    target = torch.minimum(u * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, target, right=True)  # first position with cdf > target


def _refuse_rows(finite: Tensor) -> None:
    """Refuse a batch where some row's largest logit is not finite (all -inf, or NaN)."""
    if not bool(finite.all()):  # finite: bool [batch]
        row = int(finite.logical_not().nonzero()[0])
        raise ValueError(f"row {row} has no finite logit: nothing to sample from")


def _params(
    logits: Tensor,
    temperature: float | Tensor,
    top_k: int | Tensor,
    top_p: float | Tensor,
    min_p: float | Tensor,
) -> tuple[Column, Column, Column, Column]:
    """The logits' shape checked, and the parameters as numbers or columns [batch, 1]."""
    if logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(
            f"logits must be a floating tensor [batch, vocab]; got shape "
            f"{tuple(logits.shape)} and dtype {logits.dtype}"
        )
    batch, dev = logits.shape[0], logits.device
    return (
        _column("temperature", temperature, batch, dev, low=0.0, high=math.inf),
        _column("top_k", top_k, batch, dev, low=0.0, high=math.inf, integer=True),
        _column("top_p", top_p, batch, dev, low=0.0, high=1.0),
        _column("min_p", min_p, batch, dev, low=0.0, high=1.0),
    )


def _filter(logits: Tensor, t: Column, k: Column, p: Column, mp: Column) -> _Filtered:
    """The cutoffs of a batch, for parameters that `_params` checked."""
    batch, vocab = logits.shape
    dev = logits.device
    greedy: Tensor | None = None  # [batch] bool
    if isinstance(t, Tensor):
        is_greedy = t == 0  # [batch, 1]; these rows divide by 1 and keep their max
        x = _scaled_copy(logits, torch.where(is_greedy, 1.0, t))
        greedy = is_greedy.squeeze(1)
    elif t == 0:  # greedy: the max and its ties, nothing else to compute
        x = _scaled_copy(logits, 1.0)
        all_rows = torch.ones(batch, dtype=torch.bool, device=dev)
        return _Filtered(x, x.amax(dim=-1, keepdim=True), all_rows, None)
    else:
        x = _scaled_copy(logits, t)

    # top-k as one k per row; k=0 or k>=vocab keeps everything, which is k=vocab.
    if isinstance(k, Tensor):
        k = torch.where((k <= 0) | (k >= vocab), vocab, k)  # [batch, 1]
        k_max = int(k.max()) if batch else vocab
        topk_on = bool((k < vocab).any())
    else:
        k = vocab if k <= 0 or k >= vocab else int(k)
        k_max, topk_on = k, k < vocab
    topp_on = bool((p < 1.0).any()) if isinstance(p, Tensor) else p < 1.0

    cutoff: Tensor | None = None
    window: tuple[Tensor, Tensor] | None = None
    if topk_on or topp_on:
        # Candidates sorted by decreasing logit: the whole row, or a window of the top
        # k_max + 1 when every row has top-k on (one past k shows whether the k-th
        # logit has a tie outside the window).
        if k_max < vocab:
            values, ids = torch.topk(x, k_max + 1, dim=-1)  # [batch, k_max + 1], sorted
        else:
            values, ids = torch.sort(x, dim=-1, descending=True)  # [batch, vocab]
        window = (values, ids)
        k_cut = values.gather(1, k - 1) if isinstance(k, Tensor) else values[:, k - 1 : k]
        cutoff = k_cut  # [batch, 1]
        # Ties of the k-th logit outside the window survive top-k too: they share
        # top-p's normalisation and may be drawn. Count them with a pass over the row,
        # but only when some row's (k+1)-th logit equals its k-th (rare in practice).
        outside = torch.zeros_like(k_cut)  # [batch, 1]
        if k_max < vocab:
            k_next = values.gather(1, k) if isinstance(k, Tensor) else values[:, k : k + 1]
            if bool((k_next == k_cut).any()):
                inside = (values >= k_cut).sum(dim=-1, keepdim=True)
                outside = (x >= k_cut).sum(dim=-1, keepdim=True).sub_(inside).float()
        if topp_on:
            cutoff = torch.maximum(cutoff, _top_p_cutoff(values, k_cut, outside, p, topk_on))
        # A tie outside the window that is still alive (finite, and top-p did not raise
        # the cutoff above it) means the window does not hold every survivor.
        alive_outside = (outside > 0) & (cutoff <= k_cut) & torch.isfinite(k_cut)
        if bool(alive_outside.any()):
            window = None

    # min-p, in logit space: p_i >= min_p * p_max  <=>  x_i >= x_max + log(min_p).
    row_max = values[:, :1] if topk_on or topp_on else None  # [batch, 1]
    if isinstance(mp, Tensor) or mp > 0.0:
        row_max = row_max if row_max is not None else x.amax(dim=-1, keepdim=True)
        log_mp = torch.log(mp) if isinstance(mp, Tensor) else math.log(mp)
        cutoff = row_max + log_mp if cutoff is None else torch.maximum(cutoff, row_max + log_mp)

    if greedy is not None:
        row_max = row_max if row_max is not None else x.amax(dim=-1, keepdim=True)
        cutoff = torch.where(greedy.unsqueeze(1), row_max, NEG_INF if cutoff is None else cutoff)
    return _Filtered(x, cutoff, greedy, window)


def _scaled_copy(logits: Tensor, t: Column) -> Tensor:
    """float32 logits / t in a new tensor: one pass, never a view of the input."""
    if logits.dtype == torch.float32:
        return logits.clone() if isinstance(t, float | int) and t == 1 else logits / t
    return logits.to(torch.float32).div_(t)


def _top_p_cutoff(
    values: Tensor, k_cut: Tensor, outside: Tensor, p: Column, topk_on: bool
) -> Tensor:
    """The logit of the last token top-p keeps, per row [batch, 1].

    `values` [batch, m] are sorted descending; the top-k survivors are those >= k_cut,
    plus `outside` more ties of k_cut beyond the window. Token j survives iff the mass of
    tokens 0..j-1 is < p: a prefix, of length 1 + #{j < m-1 : cumsum[j] < p * total}.
    Unnormalised weights and the running sum's own total save two passes over the row.
    Positions past the survivors weigh nothing; should rounding let the prefix run into
    them, the top-k cutoff is the larger one and wins.
    """
    row_max = values[:, :1]  # [batch, 1]
    weights = (values - row_max).exp_()  # [batch, m], p_j / p_max
    if topk_on:
        weights.masked_fill_(values < k_cut, 0.0)
    running = weights.cumsum_(dim=-1)  # [batch, m], in place: weights are not needed again
    total = running[:, -1:] + outside * (k_cut - row_max).exp()  # [batch, 1]
    kept = 1 + (running[:, :-1] < p * total).sum(dim=-1, keepdim=True)  # [batch, 1]
    if isinstance(p, Tensor):
        # A row with top_p = 1 is off, even where float32 mass reaches 1.0 before a
        # token of tiny probability.
        kept = torch.where(p >= 1.0, values.shape[1], kept)
    return values.gather(1, kept - 1)


def _column(
    name: str,
    value: float | Tensor,
    batch: int,
    device: torch.device,
    *,
    low: float,
    high: float,
    integer: bool = False,
) -> Column:
    """A parameter as a Python number or a column [batch, 1] on `device`, range-checked."""
    if isinstance(value, Tensor):
        if value.shape != (batch,):
            raise ValueError(
                f"{name} as a tensor must be [batch] = [{batch}]; got {list(value.shape)}"
            )
        if integer and (value.is_floating_point() or value.is_complex()):
            raise ValueError(f"{name} must be an integer tensor; got {value.dtype}")
        column = value.to(device=device, dtype=torch.int64 if integer else torch.float32)
        if not bool(((column >= low) & (column <= high)).all()):
            raise ValueError(f"{name} values must lie in [{low}, {high}]")
        return column.unsqueeze(1)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number or a tensor [batch]; got {value!r}")
    if integer and not isinstance(value, int):
        raise ValueError(f"{name} must be an int; got {value!r}")
    if not low <= value <= high:  # also rejects NaN
        raise ValueError(f"{name} must lie in [{low}, {high}]; got {value}")
    return value
