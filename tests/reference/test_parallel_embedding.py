"""reference.parallel_embedding against a single-process nn.Embedding, on real gloo ranks.

Each world size is one launch (`reference.collectives.launch`): every rank runs every
check in `_all_checks`, holding only its own shard of each table, and returns per check
None or what went wrong. The peer is `torch.nn.Embedding` over the whole table, built
in each rank: its output (forward), and its `weight.grad` after backward (the shard's
gradient, by hand and through autograd). `shard_range` is checked against
`torch.chunk`, which cuts the same ceil-sized pieces.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
import torch.distributed as dist
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from reference.parallel_embedding import (
    dim_parallel_embedding,
    shard_range,
    vocab_parallel_embedding,
    vocab_parallel_embedding_backward,
)
from tests.reference.on_ranks import Check, run_checks

WORLD_SIZES = [1, 2, 3, 4]
# (vocab, dim): divisible by every world size, short and empty last shards, tiny.
TABLES = [(12, 12), (10, 10), (9, 6), (2, 3), (1000, 64)]
ID_SHAPES: list[tuple[int, ...]] = [(), (7,), (2, 3, 4), (2, 0)]


def _table(vocab: int, dim: int, seed: int) -> Tensor:
    return torch.randn(vocab, dim, generator=torch.Generator().manual_seed(seed))


def _ids(vocab: int, shape: tuple[int, ...], seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, shape, generator=g)


def _peer(weight: Tensor) -> torch.nn.Embedding:
    emb = torch.nn.Embedding(*weight.shape)
    with torch.no_grad():
        emb.weight.copy_(weight)
    return emb


def _cases() -> Iterator[tuple[int, int, tuple[int, ...], int]]:
    for i, (vocab, dim) in enumerate(TABLES):
        for j, shape in enumerate(ID_SHAPES):
            yield vocab, dim, shape, 100 * i + j


@contextmanager
def _collectives_seen() -> Iterator[list[tuple[str, int]]]:
    """Record (collective, elements sent) of every all_reduce and all_gather meanwhile."""
    seen: list[tuple[str, int]] = []
    module: Any = dist  # the reference calls dist.all_reduce / dist.all_gather by name
    all_reduce, all_gather = dist.all_reduce, dist.all_gather

    def counting_all_reduce(tensor: Tensor, *args: Any, **kwargs: Any) -> Any:
        seen.append(("all_reduce", tensor.numel()))
        return all_reduce(tensor, *args, **kwargs)

    def counting_all_gather(out: list[Tensor], tensor: Tensor, *args: Any, **kwargs: Any) -> Any:
        seen.append(("all_gather", tensor.numel()))
        return all_gather(out, tensor, *args, **kwargs)

    module.all_reduce, module.all_gather = counting_all_reduce, counting_all_gather
    try:
        yield seen
    finally:
        module.all_reduce, module.all_gather = all_reduce, all_gather


# --------------------------------------------------------------------------- in each rank


def _check_vocab_forward(rank: int, n: int) -> str | None:
    for vocab, dim, shape, seed in _cases():
        weight, ids = _table(vocab, dim, seed), _ids(vocab, shape, seed)
        start, end = shard_range(vocab, n, rank)
        with _collectives_seen() as seen:
            out = vocab_parallel_embedding(ids, weight[start:end].clone(), vocab)
        if not torch.equal(out, _peer(weight)(ids).detach()):
            return f"vocab {vocab}, dim {dim}, ids {list(shape)}: differs from nn.Embedding"
        # One all-reduce of the output: no rank ever sends table rows.
        if seen != [("all_reduce", ids.numel() * dim)]:
            return f"vocab {vocab}, ids {list(shape)}: collectives {seen}"
    return None


def _check_vocab_dtypes(rank: int, n: int) -> str | None:
    weight = _table(10, 8, 1).to(torch.bfloat16)
    ids = _ids(10, (3, 5), 1).to(torch.int32)
    start, end = shard_range(10, n, rank)
    out = vocab_parallel_embedding(ids, weight[start:end], 10)
    expected = torch.nn.functional.embedding(ids, weight)
    ok = out.dtype == torch.bfloat16 and torch.equal(out, expected)
    return None if ok else "int32 ids, bfloat16 weights: differs from F.embedding"


def _check_backward_by_hand(rank: int, n: int) -> str | None:
    for vocab, dim, shape, seed in _cases():
        weight, ids = _table(vocab, dim, seed), _ids(vocab, shape, seed)
        grad_output = torch.randn(*shape, dim, generator=torch.Generator().manual_seed(seed))
        emb = _peer(weight)
        emb(ids).backward(grad_output)
        assert emb.weight.grad is not None
        start, end = shard_range(vocab, n, rank)
        grad = vocab_parallel_embedding_backward(ids, grad_output, vocab)
        if grad.shape != (end - start, dim):
            return f"vocab {vocab}: gradient shape {tuple(grad.shape)}"
        if not torch.allclose(grad, emb.weight.grad[start:end], atol=1e-5):
            return f"vocab {vocab}, dim {dim}, ids {list(shape)}: gradient differs"
    return None


def _check_repeated_ids_accumulate(rank: int, n: int) -> str | None:
    ids = torch.tensor([1, 1, 1, 4, 4, 9])
    grad_output = torch.arange(6, dtype=torch.float32)[:, None] + 1  # [6, 1]: 1..6
    full = torch.zeros(10, 1)
    full[1], full[4], full[9] = 1 + 2 + 3, 4 + 5, 6
    start, end = shard_range(10, n, rank)
    grad = vocab_parallel_embedding_backward(ids, grad_output, 10)
    return None if torch.equal(grad, full[start:end]) else f"got {grad.view(-1).tolist()}"


def _check_autograd(rank: int, n: int) -> str | None:
    """Through autograd: the shard's .grad after a loss on the full output."""
    vocab, dim = 10, 4
    weight, ids = _table(vocab, dim, 7), _ids(vocab, (3, 6), 7)
    start, end = shard_range(vocab, n, rank)
    shard = weight[start:end].clone().requires_grad_(True)
    scale = torch.arange(dim, dtype=torch.float32) + 1
    loss = (vocab_parallel_embedding(ids, shard, vocab) * scale).sum()
    (ours,) = torch.autograd.grad(loss, [shard])
    emb = _peer(weight)
    (theirs,) = torch.autograd.grad((emb(ids) * scale).sum(), [emb.weight])
    ok = torch.allclose(ours, theirs[start:end])
    return None if ok else "autograd gradient of the shard differs from nn.Embedding's"


def _check_dim_forward(rank: int, n: int) -> str | None:
    for vocab, dim, shape, seed in _cases():
        weight, ids = _table(vocab, dim, seed), _ids(vocab, shape, seed)
        start, end = shard_range(dim, n, rank)
        with _collectives_seen() as seen:
            out = dim_parallel_embedding(ids, weight[:, start:end].clone(), dim)
        if not torch.equal(out, _peer(weight)(ids).detach()):
            return f"vocab {vocab}, dim {dim}, ids {list(shape)}: differs from nn.Embedding"
        # One all-gather of this rank's padded columns of the output.
        if seen != [("all_gather", ids.numel() * -(-dim // n))]:
            return f"dim {dim}, ids {list(shape)}: collectives {seen}"
    return None


def _check_out_of_range(rank: int, n: int) -> str | None:
    weight = _table(10, 4, 3)
    start, end = shard_range(10, n, rank)
    calls: list[Callable[[Tensor], object]] = [
        lambda ids: vocab_parallel_embedding(ids, weight[start:end], 10),
        lambda ids: vocab_parallel_embedding_backward(ids, torch.ones(*ids.shape, 4), 10),
        lambda ids: dim_parallel_embedding(ids, weight[:, slice(*shard_range(4, n, rank))], 4),
    ]
    for bad in (10, -1):
        for call in calls:
            try:
                call(torch.tensor([[0, bad]]))
            except IndexError:
                continue
            return f"id {bad}: no IndexError"
    return None


def _check_subgroups(rank: int, n: int) -> str | None:
    layouts = [[0, n - 1], list(range(1, n))] if n >= 3 else []
    groups = [dist.new_group(members) for members in layouts]  # collective: every rank
    for members, group in zip(layouts, groups, strict=True):
        if rank not in members:
            continue
        r, size = members.index(rank), len(members)
        weight, ids = _table(7, 5, 11), _ids(7, (4, 3), 11)
        rows, cols = shard_range(7, size, r), shard_range(5, size, r)
        expected = _peer(weight)(ids).detach()
        out = vocab_parallel_embedding(ids, weight[slice(*rows)], 7, group)
        if not torch.equal(out, expected):
            return f"group {members}: vocabulary split differs"
        out = dim_parallel_embedding(ids, weight[:, slice(*cols)], 5, group)
        if not torch.equal(out, expected):
            return f"group {members}: dimension split differs"
        grad = vocab_parallel_embedding_backward(ids, torch.ones(4, 3, 5), 7, group)
        if grad.shape != (rows[1] - rows[0], 5):
            return f"group {members}: gradient shape {tuple(grad.shape)}"
    return None


CHECKS: dict[str, Check] = {
    "vocab-forward": _check_vocab_forward,
    "vocab-dtypes": _check_vocab_dtypes,
    "backward-by-hand": _check_backward_by_hand,
    "backward-repeated-ids": _check_repeated_ids_accumulate,
    "backward-autograd": _check_autograd,
    "dim-forward": _check_dim_forward,
    "out-of-range": _check_out_of_range,
    "subgroups": _check_subgroups,
}


@functools.cache
def _outcome(world_size: int) -> list[dict[str, str | None]]:
    return run_checks(CHECKS, world_size)


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=lambda n: f"ranks{n}")
def test_parallel_embedding_matches_nn_embedding(world_size: int, check: str) -> None:
    errors = {r: res[check] for r, res in enumerate(_outcome(world_size)) if res[check]}
    assert not errors, errors


# --------------------------------------------------------------------------- shard_range


@pytest.mark.parametrize(
    ("size", "n", "expected"),
    [
        (10, 4, [(0, 3), (3, 6), (6, 9), (9, 10)]),
        (9, 4, [(0, 3), (3, 6), (6, 9), (9, 9)]),
        (2, 4, [(0, 1), (1, 2), (2, 2), (2, 2)]),
        (8, 4, [(0, 2), (2, 4), (4, 6), (6, 8)]),
    ],
)
def test_shard_range_worked_by_hand(size: int, n: int, expected: list[tuple[int, int]]) -> None:
    assert [shard_range(size, n, r) for r in range(n)] == expected


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(size=st.integers(0, 300), n=st.integers(1, 17))
def test_shard_range_matches_torch_chunk(size: int, n: int) -> None:
    # torch.chunk cuts ceil(size / n)-sized pieces and drops the empty ones at the end.
    chunks = torch.arange(size).chunk(n) if size else ()
    bounds = [(int(c[0]), int(c[-1]) + 1) for c in chunks]
    expected = bounds + [(size, size)] * (n - len(bounds))
    assert [shard_range(size, n, r) for r in range(n)] == expected
