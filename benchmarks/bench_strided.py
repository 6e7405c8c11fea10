"""reference.strided against torch's own views, on a [2048, 2048] float32 storage.

Layout operations (view, transpose, narrow, expand) are a few integer operations in
either; what a Python class pays is its interpreter overhead per call. `contiguous` of a
transposed layout moves every element: the reference gathers by computed indices, torch
copies with its strided kernel. Ratios are torch's time over the reference's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.strided import StridedTensor

N = 2048


def run(device: str) -> Section:
    section = Section(
        name="strided",
        title=f"Strided views: reference vs torch, [{N}, {N}] float32 storage ({device})",
        headers=["operation", "reference", "torch", "torch / reference"],
    )
    storage = torch.arange(N * N, dtype=torch.float32, device=device)
    ours = StridedTensor(storage, (N, N))
    theirs = storage.view(N, N)
    ours_t, theirs_t = ours.transpose(0, 1), theirs.transpose(0, 1)
    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("view (2048, 2048) as (64, 32, 2048)",
         lambda: ours.view((64, 32, N)), lambda: theirs.view(64, 32, N)),
        ("transpose(0, 1)", lambda: ours.transpose(0, 1), lambda: theirs.transpose(0, 1)),
        ("narrow(1, 100, 1000)",
         lambda: ours.narrow(1, 100, 1000), lambda: theirs.narrow(1, 100, 1000)),
        ("expand a (1, 2048) row to (2048, 2048)",
         lambda: ours.narrow(0, 0, 1).expand((N, N)),
         lambda: theirs.narrow(0, 0, 1).expand(N, N)),
        ("reshape of the transpose (a copy)",
         lambda: ours_t.reshape((N * N,)), lambda: theirs_t.reshape(N * N)),
        ("contiguous() of the transpose (a copy)",
         ours_t.contiguous, theirs_t.contiguous),
    ]  # fmt: skip
    for name, mine, peer in rows:
        result = compare(peer, mine)
        section.add(name, fmt_s(result.b_s), fmt_s(result.a_s), fmt_ratio(result.ratio))
    return section
