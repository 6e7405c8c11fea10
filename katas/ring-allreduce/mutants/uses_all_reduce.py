# BUG: calls dist.all_reduce, a collective, instead of sending chunks around the ring
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
    dist.all_reduce(tensor, group=group)
    return tensor
