"""Vocabulary-parallel and dimension-parallel embeddings over torch.distributed. See PROMPT.md."""

from __future__ import annotations

import torch.distributed as dist
from torch import Tensor


def shard_range(size: int, world_size: int, rank: int) -> tuple[int, int]:
    """(start, end) of the rows (or columns) `rank` owns: shards of ceil(size / world_size),
    both ends clamped to `size`."""
    raise NotImplementedError


def vocab_parallel_embedding(
    ids: Tensor, weight_shard: Tensor, vocab_size: int, group: dist.ProcessGroup | None = None
) -> Tensor:
    """The full lookup [..., D] on every rank. `weight_shard` is [shard_len, D], this rank's
    rows of the table; out-of-shard ids contribute zeros; the partial results are summed
    with an all-reduce."""
    raise NotImplementedError


def vocab_parallel_embedding_backward(
    ids: Tensor, grad_output: Tensor, vocab_size: int, group: dist.ProcessGroup | None = None
) -> Tensor:
    """This rank's weight gradient [shard_len, D] from the full grad_output [..., D]."""
    raise NotImplementedError


def dim_parallel_embedding(
    ids: Tensor, weight_cols: Tensor, embedding_dim: int, group: dist.ProcessGroup | None = None
) -> Tensor:
    """The full lookup [..., embedding_dim] on every rank. `weight_cols` is
    [vocab_size, shard_len], this rank's columns of every row; all-gather along the last dim."""
    raise NotImplementedError
