"""Memory case: reshaping a large non-contiguous tensor whose reshape is a view.

The tensor is a 2048 x 2048 float32 grid (16 MiB of storage) transposed: not
contiguous, but splitting its last dimension keeps every new dimension inside one
chunk (PROMPT.md), so torch's `reshape` returns a view and so must the candidate's:
new strides over the same storage, a few hundred bytes. A reshape that copies
whenever the tensor is not contiguous (`contiguous().view(...)`), or always, writes
16 MiB of new storage (plus whatever index arithmetic it gathers with), far over a
budget of twice the reference's peak plus 2 MiB.

Each call splits the last dimension differently, so nothing is reused by content;
its result (shape, strides, offset) is compared with the reference's.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.judge.measuring import Case

N = 2048


def memory_case(impl: Any, device: str) -> Case:
    storage = torch.arange(N * N, dtype=torch.float32)
    grid = impl.StridedTensor(storage, (N, N)).transpose(0, 1)  # strides (1, N)
    reshape = grid.reshape

    def inputs(i: int) -> tuple[Any, ...]:
        split = 16 << (i % 6)  # 16, 32, ...: a different split of the last dim per call
        return ([N, split, N // split],)

    def call(shape: Any) -> object:
        out = reshape(shape)
        return (tuple(out.shape), tuple(out.strides), int(out.offset))

    return Case(call, inputs)
