"""Ring all-reduce (reference) against gloo's own `dist.all_reduce`, side by side.

Both run in the same ranks of one launch. `grader/timing.compare` cannot be used as
is: it picks its block length from each process's own clock, and ranks that
disagree on how many calls a block holds would pair one rank's ring with another's
gloo call. So each block's time is the slowest rank's (a MAX all-reduce after the block,
outside the timed region), every rank derives the same block length from it, and
ring and gloo blocks alternate as A B B A; the median of the per-round ratios is
the figure.

Bus bandwidth is the ring's figure of merit: every rank sends 2(N-1)/N of the
tensor, so `2(N-1)/N * bytes / time` is the rate each link sustains, and it is
comparable across world sizes.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.distributed as dist

from benchmarks.common import Section, fmt_ratio, fmt_s
from reference.collectives import launch, ring_all_reduce

WORLD_SIZE = 4
SIZES_MB = [1, 16]
ROUNDS = 21
BLOCK_S = 0.05


def _block(fn: Callable[[], object], n: int) -> float:
    """Seconds per call over `n` calls: the slowest rank's, since a collective is
    done when its last rank is. Ranks start the block together."""
    dist.barrier()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    elapsed = torch.tensor([(time.perf_counter() - start) / n], dtype=torch.float64)
    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)  # outside the timed region
    return float(elapsed.item())


def _rank(rank: int, world_size: int, numel: int, rounds: int) -> tuple[float, float, float]:
    """(median ring/gloo ratio, ring s, gloo s); every rank computes the same values."""
    x = torch.randn(numel, generator=torch.Generator().manual_seed(rank))

    def ring() -> object:
        return ring_all_reduce(x)

    def gloo() -> object:
        return dist.all_reduce(x)

    for _ in range(2):  # warm-up: connections, allocator
        ring()
        gloo()
    # Every rank sees the same (slowest-rank) time, so all choose the same block length.
    calls = max(1, round(BLOCK_S / _block(gloo, 1)))
    ratios, ring_s, gloo_s = [], [], []
    for _ in range(rounds):
        a = _block(ring, calls)
        b = _block(gloo, calls) + _block(gloo, calls)
        a += _block(ring, calls)
        ratios.append(a / b)
        ring_s.append(a / 2)
        gloo_s.append(b / 2)
    return statistics.median(ratios), statistics.median(ring_s), statistics.median(gloo_s)


def _bus_gbps(numel: int, world_size: int, seconds: float) -> float:
    nbytes = numel * 4
    return 2 * (world_size - 1) / world_size * nbytes / seconds / 1e9


def run(device: str) -> Section:
    section = Section(
        name="collectives",
        title=f"Ring all-reduce vs gloo all_reduce ({WORLD_SIZE} local ranks, float32)",
        headers=["size", "ring", "gloo", "ring / gloo", "ring bus bw", "gloo bus bw"],
    )
    if device != "cpu":
        section.notes.append(
            "Only CPU (gloo) is measured: ranks of one launch share a single machine, "
            "and NCCL needs one GPU per rank."
        )
    for mb in SIZES_MB:
        numel = mb * 2**20 // 4
        ratio, ring_s, gloo_s = launch(_rank, WORLD_SIZE, numel, ROUNDS, timeout=300)[0]
        section.add(
            f"{mb} MB",
            fmt_s(ring_s),
            fmt_s(gloo_s),
            fmt_ratio(ratio),
            f"{_bus_gbps(numel, WORLD_SIZE, ring_s):.2f} GB/s",
            f"{_bus_gbps(numel, WORLD_SIZE, gloo_s):.2f} GB/s",
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    section.notes.append(
        f"One torch thread per rank ({WORLD_SIZE} ranks share the machine's cores). "
        f"Ratio: median of {ROUNDS} interleaved ABBA rounds, each block timed by its "
        "slowest rank. Bus bandwidth: 2(N-1)/N * bytes / time. "
        f"Load average when the run ended: {load:.1f}."
    )
    return section
