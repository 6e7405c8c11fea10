# BUG: uses group ranks as peers: send/recv need global ranks, wrong inside a subgroup
"""Ring all-reduce over torch.distributed point-to-point: reduce-scatter, then all-gather."""

from __future__ import annotations

import torch
import torch.distributed as dist


def _exchange(
    send: torch.Tensor,
    recv: torch.Tensor,
    right: int,
    left: int,
    group: dist.ProcessGroup | None,
) -> None:
    """Send `send` right while receiving `recv` from the left, both posted before waiting.

    A blocking send first would deadlock: every rank would wait in `send` for a
    neighbour that is itself sending. Empty chunks are skipped on both ends (the
    receiver's chunk has the same index as the sender's, so the same size).
    """
    works: list[dist.Work] = []
    if recv.numel() > 0:
        work = dist.irecv(recv, src=left, group=group)
        if work is not None:
            works.append(work)
    if send.numel() > 0:
        work = dist.isend(send, dst=right, group=group)
        if work is not None:
            works.append(work)
    for work in works:
        work.wait()


def ring_all_reduce(tensor: torch.Tensor, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """Sum `tensor` over `group` in place and return it."""
    n = dist.get_world_size(group)
    r = dist.get_rank(group)
    if n == 1:
        return tensor

    def to_global(group_rank: int) -> int:
        # send/recv address peers by global rank, even inside a group
        return group_rank if group is None else dist.get_global_rank(group, group_rank)

    right, left = (r + 1) % n, (r - 1) % n
    chunks = torch.tensor_split(tensor.view(-1), n)  # views: writes land in `tensor`
    scratch = torch.empty_like(chunks[0])  # chunk 0 is the largest

    # Reduce-scatter: at step s send chunk (r - s), receive chunk (r - s - 1) and add.
    # After n - 1 steps rank r holds the full sum of chunk (r + 1).
    for s in range(n - 1):
        send, into = chunks[(r - s) % n], chunks[(r - s - 1) % n]
        buf = scratch[: into.numel()]
        _exchange(send, buf, right, left, group)
        into.add_(buf)

    # All-gather: at step s send chunk (r + 1 - s), receive chunk (r - s) in place.
    for s in range(n - 1):
        _exchange(chunks[(r + 1 - s) % n], chunks[(r - s) % n], right, left, group)
    return tensor
