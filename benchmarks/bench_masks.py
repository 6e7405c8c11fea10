"""reference.masks against the two obvious ways to build a sliding-window mask.

- broadcast: compare a column of query positions with a row of key positions,
  `(j <= p) & (j > p - W)`: three n x n boolean grids alive at once.
- tril/triu: `ones(n, n, bool).tril_(offset).triu_(offset - W + 1)`, in place.

The reference evaluates the rule once per diagonal and copies rows out of that
band (see `sliding_window_mask`). Ratios are the baseline's time over the reference's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.masks import sliding_window_mask


def broadcast_mask(q_len: int, kv_len: int, window: int, offset: int, device: str) -> torch.Tensor:
    p = torch.arange(q_len, device=device)[:, None] + offset  # [q, 1]
    j = torch.arange(kv_len, device=device)  # [k]
    return (j <= p) & (j > p - window)


def tril_triu_mask(q_len: int, kv_len: int, window: int, offset: int, device: str) -> torch.Tensor:
    mask = torch.ones(q_len, kv_len, dtype=torch.bool, device=device)
    return mask.tril_(offset).triu_(offset - window + 1)


CASES = [
    # name, q_len, kv_len, window, offset
    ("prefill 2048, W=512", 2048, 2048, 512, 0),
    ("prefill 8192, W=4096", 8192, 8192, 4096, 0),
    ("chunk 1024 after 7168, W=4096", 1024, 8192, 4096, 7168),
    ("decode at 8191, W=4096", 1, 8192, 4096, 8191),
]


def run(device: str) -> Section:
    sync: Callable[[], None] = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    section = Section(
        name="masks",
        title=f"Sliding-window masks ({device})",
        headers=["case", "reference", "broadcast", "ratio", "tril/triu", "ratio"],
    )
    for name, q_len, kv_len, window, offset in CASES:
        args = (q_len, kv_len, window, offset, device)
        assert torch.equal(sliding_window_mask(*args), broadcast_mask(*args))

        def ref(args: tuple[int, int, int, int, str] = args) -> torch.Tensor:
            return sliding_window_mask(*args)

        def wide(args: tuple[int, int, int, int, str] = args) -> torch.Tensor:
            return broadcast_mask(*args)

        def band(args: tuple[int, int, int, int, str] = args) -> torch.Tensor:
            return tril_triu_mask(*args)

        vs_broadcast = compare(wide, ref, sync=sync)
        vs_tril = compare(band, ref, sync=sync)
        section.add(
            name,
            fmt_s(vs_broadcast.b_s),
            fmt_s(vs_broadcast.a_s),
            fmt_ratio(vs_broadcast.ratio),
            fmt_s(vs_tril.a_s),
            fmt_ratio(vs_tril.ratio),
        )
    return section
