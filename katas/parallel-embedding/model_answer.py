"""Embedding tables split across ranks: by vocabulary (Megatron) and by columns (fairscale)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor


def shard_range(size: int, world_size: int, rank: int) -> tuple[int, int]:
    """[start, end) owned by `rank`: shards of ceil(size / N), both ends clamped to size."""
    s = -(-size // world_size)
    return min(rank * s, size), min((rank + 1) * s, size)


def _check_ids(ids: Tensor, vocab_size: int) -> None:
    # Every rank holds the same ids, so every rank raises here, before any collective.
    if ids.numel() > 0 and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise IndexError(f"ids must be in [0, {vocab_size})")


def _my_rows(vocab_size: int, group: dist.ProcessGroup | None) -> tuple[int, int]:
    return shard_range(vocab_size, dist.get_world_size(group), dist.get_rank(group))


def vocab_parallel_embedding(
    ids: Tensor, weight_shard: Tensor, vocab_size: int, group: dist.ProcessGroup | None = None
) -> Tensor:
    """[..., D] on every rank: look up the ids this shard owns, zeros elsewhere, all-reduce."""
    _check_ids(ids, vocab_size)
    start, end = _my_rows(vocab_size, group)
    d = weight_shard.shape[1]
    if end > start:
        mine = (ids >= start) & (ids < end)
        local = torch.where(mine, ids - start, 0)  # row 0 stands in for the others
        out = F.embedding(local, weight_shard)
        out = out.masked_fill(~mine.unsqueeze(-1), 0.0)
    else:  # an empty shard: nothing to look up
        out = torch.zeros(*ids.shape, d, dtype=weight_shard.dtype, device=weight_shard.device)
    dist.all_reduce(out, group=group)
    return out


def vocab_parallel_embedding_backward(
    ids: Tensor, grad_output: Tensor, vocab_size: int, group: dist.ProcessGroup | None = None
) -> Tensor:
    """[shard_len, D]: grad_output summed into the local row of every in-shard id."""
    _check_ids(ids, vocab_size)
    start, end = _my_rows(vocab_size, group)
    d = grad_output.shape[-1]
    grad = torch.zeros(end - start, d, dtype=grad_output.dtype, device=grad_output.device)
    flat = ids.reshape(-1)
    rows = grad_output.reshape(-1, d)
    mine = (flat >= start) & (flat < end)
    grad.index_add_(0, flat[mine] - start, rows[mine])  # repeated ids accumulate
    return grad


def dim_parallel_embedding(
    ids: Tensor, weight_cols: Tensor, embedding_dim: int, group: dist.ProcessGroup | None = None
) -> Tensor:
    """[..., embedding_dim] on every rank: look up my columns, all-gather along the last dim."""
    _check_ids(ids, weight_cols.shape[0])
    n = dist.get_world_size(group)
    width = -(-embedding_dim // n)
    part = F.embedding(ids, weight_cols)
    part = F.pad(part, (0, width - part.shape[-1]))  # all_gather needs equal sizes
    blocks = [torch.empty_like(part) for _ in range(n)]
    dist.all_gather(blocks, part, group=group)
    return torch.cat(blocks, dim=-1)[..., :embedding_dim].contiguous()
