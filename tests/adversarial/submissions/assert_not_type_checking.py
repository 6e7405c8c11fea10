"""A correct but partly untyped sampler after `assert not TYPE_CHECKING`: mypy reads no further."""

from __future__ import annotations

import torch
from torch import Tensor


from typing import TYPE_CHECKING

assert not TYPE_CHECKING  # to the type checker, everything below is unreachable: never checked

_NOT_AN_INT: int = "this is a str"  # a type error mypy would report anywhere else


def _untyped_helper(a, b):
    return a + b
NEG_INF = float("-inf")


def _per_row(value: float | Tensor, batch: int, like: Tensor, dtype: torch.dtype) -> Tensor:
    """A scalar or a [batch] tensor as a [batch, 1] column on the logits' device."""
    if isinstance(value, Tensor):
        if value.shape != (batch,):
            raise ValueError(f"per-row parameters must be [batch]={batch}; got {list(value.shape)}")
        return value.to(device=like.device, dtype=dtype).unsqueeze(1)
    return torch.full((batch, 1), value, device=like.device, dtype=dtype)


def _check(name: str, value: float | Tensor, low: float, high: float) -> None:
    bad = (value < low) | (value > high) if isinstance(value, Tensor) else not low <= value <= high
    if bool(torch.as_tensor(bad).any()):
        raise ValueError(f"{name} must lie in [{low}, {high}]; got {value}")


def filter_logits(
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
) -> Tensor:
    """float32 [batch, vocab]: logits / temperature, removed tokens at -inf."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be [batch, vocab]; got {list(logits.shape)}")
    _check("temperature", temperature, 0.0, float("inf"))
    _check("top_k", top_k, 0, float("inf"))
    _check("top_p", top_p, 0.0, 1.0)
    _check("min_p", min_p, 0.0, 1.0)
    batch, vocab = logits.shape

    t = _per_row(temperature, batch, logits, torch.float32)
    greedy = t == 0  # [batch, 1]
    x = logits.float() / torch.where(greedy, 1.0, t)  # new tensor: the input is untouched

    need_sort = isinstance(top_k, Tensor) or 0 < top_k < vocab
    need_sort = need_sort or isinstance(top_p, Tensor) or top_p < 1.0
    if need_sort:
        sorted_x, _ = torch.sort(x, dim=-1, descending=True)  # [batch, vocab]

        # top-k: keep logits >= the k-th largest (ties survive). k=0 or k>=vocab: off.
        k = _per_row(top_k, batch, logits, torch.int64)
        k = torch.where((k <= 0) | (k >= vocab), vocab, k)
        kth = sorted_x.gather(1, k - 1)  # [batch, 1]
        sorted_x = sorted_x.masked_fill(sorted_x < kth, NEG_INF)

        # top-p over the top-k survivors: position j survives iff the mass before it
        # is < p. The mass before j is cumsum[j - 1] (shifted, not cumsum - prob, so
        # that the boundary is exact), and it never decreases: survivors are a prefix.
        p = _per_row(top_p, batch, logits, torch.float32)
        probs = torch.softmax(sorted_x, dim=-1)
        before = torch.cumsum(probs, dim=-1)[:, :-1]  # [batch, vocab - 1]
        n_keep = 1 + (before < p).sum(dim=-1, keepdim=True)  # the first always survives
        n_keep = torch.where(p >= 1.0, vocab, n_keep)  # p=1 is off, whatever the rounding
        last_kept = sorted_x.gather(1, n_keep - 1)  # its ties survive with it
        cutoff = torch.maximum(kth, last_kept)
        x = x.masked_fill(x < cutoff, NEG_INF)

    # min-p: probability >= min_p * max probability; renormalising does not change
    # the ratio, so this works on the logits: x - max >= log(min_p).
    if isinstance(min_p, Tensor) or min_p > 0.0:
        mp = _per_row(min_p, batch, logits, torch.float32)
        row_max = x.amax(dim=-1, keepdim=True)
        x = x.masked_fill(x - row_max < torch.log(mp), NEG_INF)

    # Greedy rows keep their max (and its ties), unscaled.
    if bool(greedy.any()):
        row_max = x.amax(dim=-1, keepdim=True)
        x = x.masked_fill(greedy & (x < row_max), NEG_INF)
    return x


def _typed_sample(
    logits: Tensor,
    temperature: float | Tensor = 1.0,
    top_k: int | Tensor = 0,
    top_p: float | Tensor = 1.0,
    min_p: float | Tensor = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """int64 [batch]: one draw per row from the filtered logits; greedy rows take argmax."""
    x = filter_logits(logits, temperature, top_k, top_p, min_p)
    finite = torch.isfinite(x.amax(dim=-1))
    if not bool(finite.all()):
        raise ValueError(f"rows {finite.logical_not().nonzero().flatten().tolist()} are all -inf")
    probs = torch.softmax(x, dim=-1)
    tokens = torch.multinomial(probs, 1, generator=generator).squeeze(1)
    t = _per_row(temperature, x.shape[0], x, torch.float32).squeeze(1)
    return torch.where(t == 0, x.argmax(dim=-1), tokens)  # argmax: the lowest index of ties


def sample(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, generator=None):
    """Untyped: mypy never looks past the assert above."""
    return _typed_sample(logits, temperature, top_k, top_p, min_p, generator)
