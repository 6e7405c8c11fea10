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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# B (the reference) taking within this of itself in the two blocks of a round (the same
# work, moments apart) is a machine quiet enough to trust a median near a budget.
STEADY = 0.20  # measured: 0.07-0.12 on a quiet machine, 0.42-0.47 beside a busy core


@dataclass(frozen=True)
class Comparison:
    """`ratio` is A's time over B's (2.0: A takes twice as long as B)."""

    ratio: float
    a_s: float  # median seconds per call of A
    b_s: float  # median seconds per call of B
    rounds: int
    low: float = 0.0  # a 95% confidence interval of the median ratio (order statistics)
    high: float = float("inf")
    b_spread: float = 0.0  # how far B's two blocks of a round differ (median, relative)

    def verdict(self, budget: float, steady: float = STEADY) -> str:
        """ "pass", "fail", or "unsure": the interval lies within the budget, past it, or
        across it. Across it, a steady B means the machine was quiet and the noise was
        A's own: the median decides. Only a busy machine leaves it unsure."""
        if self.high <= budget:
            return "pass"
        if self.low > budget:
            return "fail"
        if self.b_spread <= steady:
            return "pass" if self.ratio <= budget else "fail"
        return "unsure"


def spread(pairs: list[tuple[float, float]]) -> float:
    """How far a side's two blocks of a round differ, relative to their mean (the median
    over rounds): the same work moments apart, so what differs is the machine."""
    if not pairs:
        return 0.0
    return statistics.median(abs(x - y) / max((x + y) / 2, 1e-12) for x, y in pairs)


def median_interval(ratios: list[float]) -> tuple[float, float]:
    """A distribution-free confidence interval of the median, at least 93%: the k-th
    smallest and k-th largest of n values, k = (n - 1.96 sqrt(n)) / 2, and at least the
    smallest and largest (which cover the median with 1 - 2 / 2^n: 94% from 5 values).
    Fewer than 5 values leave it unbounded."""
    n = len(ratios)
    if n < 5:
        return 0.0, float("inf")
    k = max(1, int((n - 1.96 * n**0.5) / 2))
    ordered = sorted(ratios)
    return ordered[k - 1], ordered[n - k]


class Side(Protocol):
    """One side of a comparison: `block(n)` makes n calls and returns seconds per call."""

    def block(self, n: int) -> float: ...


class Local:
    """A callable in this process, timed with `time.perf_counter` (and `sync`, on a GPU)."""

    def __init__(self, fn: Callable[[], object], sync: Callable[[], None]) -> None:
        self.fn = fn
        self.sync = sync

    def block(self, n: int) -> float:
        self.sync()
        start = time.perf_counter()
        for _ in range(n):
            self.fn()
        self.sync()
        return (time.perf_counter() - start) / n


def _noop() -> None:
    return None


def calls_per_block(side: Side, block_s: float) -> int:
    """How many calls of `side` fill about `block_s` seconds (at least one)."""
    one = side.block(1)
    if one >= block_s:
        return 1
    n = max(1, int(block_s / max(one, 1e-9)))
    # One more measurement on a block of n: the first call is often unrepresentative.
    per_call = side.block(n)
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
    return compare_sides(
        Local(a, sync),
        Local(b, sync),
        block_s=block_s,
        rounds=rounds,
        min_rounds=min_rounds,
        warmup=warmup,
        max_s=max_s,
    )


def compare_sides(
    a: Side,
    b: Side,
    *,
    block_s: float = 0.008,
    rounds: int = 21,
    min_rounds: int = 5,
    warmup: int = 2,
    max_s: float = 6.0,
    budget: float | Sequence[float] | None = None,
) -> Comparison:
    """`compare` for any two sides (a worker behind a channel, say). With a `budget` (or
    several: a kata's speed tiers), rounds stop early once the median's confidence
    interval lies wholly on one side of each: the verdict is settled, more rounds would
    not change it."""
    budgets = [] if budget is None else [budget] if isinstance(budget, float | int) else budget
    for _ in range(warmup):
        a.block(1)
        b.block(1)
    n_a = calls_per_block(a, block_s)
    n_b = calls_per_block(b, block_s)
    deadline = time.perf_counter() + max_s
    ratios: list[float] = []
    a_times: list[float] = []
    b_times: list[float] = []
    b_pairs: list[tuple[float, float]] = []
    while len(ratios) < rounds:
        t_a = a.block(n_a)
        b_first = b.block(n_b)
        b_second = b.block(n_b)
        b_pairs.append((b_first, b_second))
        t_b = b_first + b_second
        t_a += a.block(n_a)
        a_times.append(t_a / 2)
        b_times.append(t_b / 2)
        ratios.append(t_a / max(t_b, 1e-12))
        if len(ratios) >= min_rounds and time.perf_counter() > deadline:
            break
        if budgets:
            low, high = median_interval(ratios)
            if all(high < b or low > b for b in budgets):
                break
    low, high = median_interval(ratios)
    return Comparison(
        ratio=statistics.median(ratios),
        a_s=statistics.median(a_times),
        b_s=statistics.median(b_times),
        rounds=len(ratios),
        low=low,
        high=high,
        b_spread=spread(b_pairs),
    )
