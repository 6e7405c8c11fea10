"""What the suite checks against, all computed here in the judge.

The peer is a single-process `torch.nn.Embedding` holding the whole table, forward and
backward. Shards are cut from its weight by the stated rule (`shard`), and the rule
itself is pinned by hand-worked layouts (`HAND_WORKED`). Inputs come from seeded
generators: the same solution always meets the same inputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# (size, N) -> each rank's [start, end), worked by hand from s = ceil(size / N) and
# start = min(r * s, size), end = min((r + 1) * s, size).
HAND_WORKED: dict[tuple[int, int], list[tuple[int, int]]] = {
    (8, 4): [(0, 2), (2, 4), (4, 6), (6, 8)],
    (10, 4): [(0, 3), (3, 6), (6, 9), (9, 10)],
    (9, 4): [(0, 3), (3, 6), (6, 9), (9, 9)],
    (5, 4): [(0, 2), (2, 4), (4, 5), (5, 5)],
    (2, 4): [(0, 1), (1, 2), (2, 2), (2, 2)],
    (7, 3): [(0, 3), (3, 6), (6, 7)],
    (5, 2): [(0, 3), (3, 5)],
    (10, 1): [(0, 10)],
}


def shard(size: int, n: int, rank: int) -> tuple[int, int]:
    """[start, end) of `rank` among `n`: shards of ceil(size / n), clamped to `size`."""
    s = math.ceil(size / n)
    start = min(rank * s, size)
    return start, min(start + s, size)


def table(vocab: int, dim: int, salt: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """A [vocab, dim] weight with distinct, nonzero entries: a wrong row or column shows."""
    g = torch.Generator().manual_seed(1009 * salt + 17)
    w = torch.randn(vocab, dim, generator=g)
    # Keep every entry away from 0 so that a row that came back zero is told apart.
    return (w + torch.where(w >= 0, 0.5, -0.5)).to(dtype)


def ids_covering(vocab: int, shape: tuple[int, ...], salt: int) -> Tensor:
    """int64 ids of `shape`: every id of the vocabulary when there is room, then random
    ones (so some repeat); distinct random ids when there is not; in a seeded order."""
    g = torch.Generator().manual_seed(7919 * salt + 3)
    n = math.prod(shape)
    head = torch.randperm(vocab, generator=g)[:n]
    tail = torch.randint(0, vocab, (n - head.numel(),), generator=g)
    flat = torch.cat([head, tail])
    return flat[torch.randperm(n, generator=g)].reshape(shape)


def int_grads(shape: tuple[int, ...], salt: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """grad_output of small integers: every summation order is exact, in bfloat16 too
    while a row's sum stays within 256 (a few repeats of values up to 8)."""
    g = torch.Generator().manual_seed(31 * salt + 5)
    return torch.randint(-8, 9, shape, generator=g).to(dtype)


def lookup(weight: Tensor, ids: Tensor) -> Tensor:
    """The peer's forward: nn.Embedding over the whole table."""
    emb = torch.nn.Embedding(weight.shape[0], weight.shape[1], dtype=weight.dtype)
    with torch.no_grad():
        emb.weight.copy_(weight)
        return emb(ids)


def weight_grad(weight: Tensor, ids: Tensor, grad_output: Tensor) -> Tensor:
    """The peer's backward: nn.Embedding's weight gradient for `grad_output`, [V, D]."""
    emb = torch.nn.Embedding(weight.shape[0], weight.shape[1], dtype=weight.dtype)
    with torch.no_grad():
        emb.weight.copy_(weight)
    emb(ids).backward(grad_output)
    grad = emb.weight.grad
    assert grad is not None
    return grad
