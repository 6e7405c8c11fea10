"""An embedding table split across the ranks of a process group, two ways.

**By vocabulary** (Megatron-LM's VocabParallelEmbedding): rank r holds a contiguous
block of rows. Every rank sees the same ids, looks up the ones it owns, writes zeros
for the rest, and an all-reduce (SUM) adds the partial results: each id is owned by
exactly one rank, so the sum is the full lookup, exact in any dtype (x + 0 = x).

**By embedding dimension** (fairscale's ParallelEmbedding): rank r holds a block of
columns of every row. Every rank looks up all ids in its columns and an all-gather
along the last dimension puts the blocks side by side.

One rule cuts both, rows or columns: `size` things over N ranks in shards of
`s = ceil(size / N)`; rank r owns `[min(r * s, size), min((r + 1) * s, size))`.
The last shards may be short or empty. Worked by hand:

    size 10, N 4: s = 3   rank 0 [0, 3)   rank 1 [3, 6)   rank 2 [6, 9)   rank 3 [9, 10)
    size  9, N 4: s = 3   rank 0 [0, 3)   rank 1 [3, 6)   rank 2 [6, 9)   rank 3 [9, 9)
    size  2, N 4: s = 1   rank 0 [0, 1)   rank 1 [1, 2)   rank 2 [2, 2)   rank 3 [2, 2)

Lookup of ids [[9, 0], [4, 4]] in a 10-row table on 4 ranks: rank 0 fills position
(0, 1) with its local row 0, rank 1 fills both (1, *) with its local row 4 - 3 = 1,
rank 3 fills (0, 0) with its local row 9 - 9 = 0, rank 2 fills nothing; every other
position is zero on that rank, and the all-reduce adds the four.

Backward of the vocabulary split: the output is the same on every rank, and so is
its gradient (the all-reduce's backward is the identity, as in Megatron's
"reduce from the tensor-parallel region"). Each rank computes its own shard's weight
gradient locally, with no communication: for every occurrence of an id it owns, add
that position's gradient row to the id's local row; repeated ids accumulate.

Ids outside `[0, vocab_size)` raise `IndexError` on every rank, before any
collective: every rank sees the same ids, so they all stop at the same point instead
of leaving the others waiting in an all-reduce. (Megatron silently returns zeros.)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

Group = dist.ProcessGroup | None


def shard_range(size: int, world_size: int, rank: int) -> tuple[int, int]:
    """`(start, end)` of the rows (or columns) that `rank` owns: shards of ceil(size / N).

    Both ends are clamped to `size`, so an empty shard is `(size, size)`.
    """
    s = -(-size // world_size)  # ceil without floats
    return min(rank * s, size), min((rank + 1) * s, size)


def _check_ids(ids: Tensor, vocab_size: int) -> None:
    """Raise on every rank alike (they all hold the same ids), before any collective."""
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise IndexError(
            f"ids must lie in [0, {vocab_size}); got min {int(ids.min())}, max {int(ids.max())}"
        )


def _own_rows(vocab_size: int, group: Group) -> tuple[int, int]:
    return shard_range(vocab_size, dist.get_world_size(group), dist.get_rank(group))


def _partial_lookup(ids: Tensor, weight_shard: Tensor, start: int, end: int) -> Tensor:
    """`[..., D]`: this shard's rows for the ids it owns, zeros everywhere else."""
    if end == start:  # an empty shard has no row 0 to point the others at
        shape = (*ids.shape, weight_shard.shape[1])
        return torch.zeros(shape, dtype=weight_shard.dtype, device=weight_shard.device)
    mine = (ids >= start) & (ids < end)
    local = torch.where(mine, ids - start, 0)  # any valid row for the others ...
    out = F.embedding(local, weight_shard)  # [..., D]
    return out.masked_fill_(~mine.unsqueeze(-1), 0)  # ... then zeroed


class _VocabParallelLookup(torch.autograd.Function):
    """Forward: partial lookup + all-reduce. Backward: this shard's gradient, locally."""

    @staticmethod
    def forward(
        ctx: Any, ids: Tensor, weight_shard: Tensor, vocab_size: int, group: Group
    ) -> Tensor:
        start, end = _own_rows(vocab_size, group)
        out = _partial_lookup(ids, weight_shard, start, end)
        dist.all_reduce(out, group=group)
        ctx.save_for_backward(ids)
        ctx.vocab_size, ctx.group = vocab_size, group
        return out

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[None, Tensor, None, None]:
        (ids,) = ctx.saved_tensors
        grad = vocab_parallel_embedding_backward(ids, grad_output, ctx.vocab_size, ctx.group)
        return None, grad, None, None


def vocab_parallel_embedding(
    ids: Tensor, weight_shard: Tensor, vocab_size: int, group: Group = None
) -> Tensor:
    """The full lookup `[..., D]` on every rank, from each rank's block of rows.

    `weight_shard` is `[shard_len, D]`: rows `shard_range(vocab_size, N, rank)` of the
    table. `ids` is any integer shape, the same on every rank. Differentiable with
    respect to `weight_shard` (its gradient is `vocab_parallel_embedding_backward`).
    """
    _check_ids(ids, vocab_size)
    out: Tensor = _VocabParallelLookup.apply(ids, weight_shard, vocab_size, group)  # type: ignore[no-untyped-call]
    return out


def vocab_parallel_embedding_backward(
    ids: Tensor, grad_output: Tensor, vocab_size: int, group: Group = None
) -> Tensor:
    """This rank's weight gradient `[shard_len, D]`, from the full `grad_output [..., D]`.

    Row i is the sum of `grad_output` over every position whose id is `start + i`; rows
    of ids that do not occur are zero. No communication: `grad_output` is the same on
    every rank, and nothing outside this shard is this rank's to update.
    """
    _check_ids(ids, vocab_size)
    start, end = _own_rows(vocab_size, group)
    d = grad_output.shape[-1]
    grad = torch.zeros(end - start, d, dtype=grad_output.dtype, device=grad_output.device)
    flat = ids.reshape(-1)
    mine = (flat >= start) & (flat < end)
    # index_add_ accumulates duplicates; an indexed assignment would keep one of them.
    grad.index_add_(0, flat[mine] - start, grad_output.reshape(-1, d)[mine])
    return grad


def dim_parallel_embedding(
    ids: Tensor, weight_cols: Tensor, embedding_dim: int, group: Group = None
) -> Tensor:
    """The full lookup `[..., embedding_dim]` on every rank, from each rank's columns.

    `weight_cols` is `[vocab_size, shard_len]`: columns
    `shard_range(embedding_dim, N, rank)` of every row of the table.
    """
    _check_ids(ids, weight_cols.shape[0])
    n = dist.get_world_size(group)
    width = -(-embedding_dim // n)  # every shard but the last few is this wide
    part = F.embedding(ids, weight_cols)  # [..., shard_len]
    # all_gather takes blocks of one size: pad the short (or empty) last shards to
    # `width`. Blocks sit at multiples of `width`, so the padding is all at the end.
    part = F.pad(part, (0, width - part.shape[-1]))  # [..., width]
    blocks = [torch.empty_like(part) for _ in range(n)]
    dist.all_gather(blocks, part, group=group)
    return torch.cat(blocks, dim=-1)[..., :embedding_dim].contiguous()
