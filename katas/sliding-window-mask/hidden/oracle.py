"""Oracles for the sliding-window-mask hidden suite: the rule written as loops.

These are deliberately the obvious, slow versions: a double loop over cells that
reads like the prompt's sentence, nothing shared with any vectorised answer.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from hypothesis import strategies as st

from grader.judge.remote import keep
from grader.judge.workers import new_candidate


def slow_mask(q_len: int, kv_len: int, window: int | None, offset: int = 0) -> torch.Tensor:
    """[q_len, kv_len]: query i at position offset + i sees key j iff p - W < j <= p."""
    rows = []
    for i in range(q_len):
        p = offset + i
        row = []
        for j in range(kv_len):
            in_window = window is None or j > p - window
            row.append(in_window and j <= p)
        rows.append(row)
    return torch.tensor(rows, dtype=torch.bool).reshape(q_len, kv_len)


def slow_padded_mask(
    lengths: list[int], window: int | None, q_len: int, offset: int = 0
) -> torch.Tensor:
    """[batch, q_len, offset + q_len]: real rows follow the rule, padding rows see themselves."""
    kv_len = offset + q_len
    out = torch.zeros(len(lengths), q_len, kv_len, dtype=torch.bool)
    for b, length in enumerate(lengths):
        for i in range(q_len):
            p = offset + i
            for j in range(kv_len):
                if p < length:
                    out[b, i, j] = (window is None or j > p - window) and j <= p
                else:
                    out[b, i, j] = j == p
    return out


def slow_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d), masked) v in float64; q [b, h, q, d], mask [b, q, k]."""
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask[:, None], float("-inf"))
    return scores.softmax(dim=-1) @ v.double()


def grid(rows: str) -> torch.Tensor:
    """A mask drawn by hand: one string per query row, 'x' allowed, '.' not."""
    return torch.tensor([[c == "x" for c in row.split()] for row in rows.strip().splitlines()])


def describe(got: torch.Tensor, expected: torch.Tensor) -> str:
    """The first wrong cell, in words, and both grids when they are small."""
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    wrong = (got.cpu() != expected).nonzero()
    if len(wrong) == 0:
        return "masks agree"
    cell = tuple(int(x) for x in wrong[0])
    text = (
        f"{len(wrong)} wrong cell(s); first at {cell}: expected "
        f"{bool(expected[cell])}, got {bool(got[cell])}"
    )
    if expected.numel() <= 256:
        text += f"\nexpected:\n{expected.int()}\ngot:\n{got.cpu().int()}"
    return text


def peak_bytes(name: str, args: tuple[Any, ...], warm_up: tuple[Any, ...]) -> int:
    """The kernel's peak resident size of the solution's process over one call of
    `solution.name(*args)`, above its size just before the call.

    The call runs in a worker of its own, started for this measurement: memory that
    earlier tests' calls freed but the allocator kept would otherwise absorb this
    call's allocations unseen. A small call first (`warm_up`) sets up what any first
    call sets up once. The result stays in the worker (`keep`), alive at the peak as
    the output a caller holds; the bytes of sending it here are not counted.
    """
    session = new_candidate("peak-memory")
    try:
        fn = getattr(session.module, name)
        keep(fn, *warm_up)
        worker = session.worker()
        before = worker.resident_bytes()
        worker.reset_peak()
        out = keep(fn, *args)
        peak = worker.peak_resident_bytes()
        del out
        return max(0, peak - before)
    finally:
        session.close()


windows = st.one_of(st.none(), st.integers(1, 12))


@st.composite
def mask_args(draw: st.DrawFn) -> tuple[int, int, int | None, int]:
    """(q_len, kv_len, window, offset), kv_len around offset + q_len."""
    q_len = draw(st.integers(0, 10))
    offset = draw(st.integers(0, 16))
    kv_len = draw(st.integers(max(0, offset + q_len - 3), offset + q_len + 3))
    return q_len, kv_len, draw(windows), offset


@st.composite
def padded_args(draw: st.DrawFn) -> tuple[list[int], int | None, int, int]:
    """(lengths, window, q_len, offset) for a right-padded batch."""
    offset = draw(st.integers(0, 8))
    q_len = draw(st.integers(1, 9))
    lengths = draw(st.lists(st.integers(0, offset + q_len), min_size=1, max_size=4))
    return lengths, draw(windows), q_len, offset
