"""Side-by-side timing of two callables: interleaved ABBA rounds, median of paired ratios.

Why not two separate medians: on a shared 2-core machine, load drifts over seconds.
Timing A for a while and then B for a while lets that drift land on one side only
(measured here: sequential medians moved by 10%). Interleaving short blocks as
A B B A puts both sides under the same load, and the ratio of each round's pair is
close to drift-free; the median of those ratios held within about 2% under load.

Each block calls the function `n` times, with `n` chosen so that a block lasts
about `block_s` (5 to 10 ms): long enough for the clock, short enough to
interleave many times. Both sides' return values are dropped the same way, since
keeping one side's outputs alive skews the comparison.

This module imports nothing heavy; a caller on a GPU passes `sync`
(`torch.cuda.synchronize`) so a block ends when the device work does.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """`ratio` is A's time over B's (2.0: A takes twice as long as B)."""

    ratio: float
    a_s: float  # median seconds per call of A
    b_s: float  # median seconds per call of B
    rounds: int


def _noop() -> None:
    return None


def _block(fn: Callable[[], object], n: int, sync: Callable[[], None]) -> float:
    """Seconds per call of `fn`, averaged over one block of `n` calls."""
    sync()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    sync()
    return (time.perf_counter() - start) / n


def calls_per_block(fn: Callable[[], object], block_s: float, sync: Callable[[], None]) -> int:
    """How many calls of `fn` fill about `block_s` seconds (at least one)."""
    one = _block(fn, 1, sync)
    if one >= block_s:
        return 1
    n = max(1, int(block_s / max(one, 1e-9)))
    # One more measurement on a block of n: the first call is often unrepresentative.
    per_call = _block(fn, n, sync)
    return max(1, int(block_s / max(per_call, 1e-9)))


def compare(
    a: Callable[[], object],
    b: Callable[[], object],
    *,
    sync: Callable[[], None] = _noop,
    block_s: float = 0.008,
    rounds: int = 21,
    min_rounds: int = 5,
    warmup: int = 2,
    max_s: float = 6.0,
) -> Comparison:
    """Time `a` against `b` in interleaved ABBA rounds; stop after `rounds` or `max_s`."""
    for _ in range(warmup):
        a()
        b()
    sync()
    n_a = calls_per_block(a, block_s, sync)
    n_b = calls_per_block(b, block_s, sync)
    deadline = time.perf_counter() + max_s
    ratios: list[float] = []
    a_times: list[float] = []
    b_times: list[float] = []
    while len(ratios) < rounds:
        t_a = _block(a, n_a, sync)
        t_b = _block(b, n_b, sync)
        t_b += _block(b, n_b, sync)
        t_a += _block(a, n_a, sync)
        a_times.append(t_a / 2)
        b_times.append(t_b / 2)
        ratios.append(t_a / max(t_b, 1e-12))
        if len(ratios) >= min_rounds and time.perf_counter() > deadline:
            break
    return Comparison(
        ratio=statistics.median(ratios),
        a_s=statistics.median(a_times),
        b_s=statistics.median(b_times),
        rounds=len(ratios),
    )
