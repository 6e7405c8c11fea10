"""Parallel embeddings (reference) against one process's nn.Embedding holding the table.

Four local gloo ranks; each holds a quarter of a [32000, 512] float32 table (rows for
the vocabulary split, columns for the dimension split) and looks up 8 x 512 ids. The
peer is what tensor parallelism replaces: `nn.Embedding` over the whole table, run in
every rank on its own. So the ratio is what splitting costs in time on one machine (an
exchange of the [4096, 512] output, 8 MiB) in return for a quarter of the table per rank.

Blocks are timed as in bench_collectives: each block's time is the slowest rank's (a MAX
all-reduce after the block, outside the timed region), every rank derives the same block
length from it, and reference and peer blocks alternate A B B A; the figure is the median
of the per-round ratios.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.distributed as dist

from benchmarks.common import Section, fmt_ratio, fmt_s
from reference.collectives import launch
from reference.parallel_embedding import (
    dim_parallel_embedding,
    shard_range,
    vocab_parallel_embedding,
    vocab_parallel_embedding_backward,
)

WORLD_SIZE = 4
VOCAB, DIM = 32000, 512
IDS = (8, 512)
ROUNDS = 15
BLOCK_S = 0.05

Timing = tuple[float, float, float]  # median ratio, reference s, peer s


def _block(fn: Callable[[], object], n: int) -> float:
    """Seconds per call over `n` calls, the slowest rank's; ranks start together."""
    dist.barrier()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    elapsed = torch.tensor([(time.perf_counter() - start) / n], dtype=torch.float64)
    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)  # outside the timed region
    return float(elapsed.item())


def _abba(ours: Callable[[], object], peer: Callable[[], object], rounds: int) -> Timing:
    for _ in range(2):  # warm-up: connections, allocator
        ours()
        peer()
    calls = max(1, round(BLOCK_S / _block(ours, 1)))  # the same on every rank
    ratios, ours_s, peer_s = [], [], []
    for _ in range(rounds):
        a = _block(ours, calls)
        b = _block(peer, calls) + _block(peer, calls)
        a += _block(ours, calls)
        ratios.append(a / b)
        ours_s.append(a / 2)
        peer_s.append(b / 2)
    return statistics.median(ratios), statistics.median(ours_s), statistics.median(peer_s)


def _rank(rank: int, world_size: int, rounds: int) -> list[Timing]:
    g = torch.Generator().manual_seed(0)  # the same table and ids on every rank
    table = torch.randn(VOCAB, DIM, generator=g)
    ids = torch.randint(0, VOCAB, IDS, generator=g)
    grad_output = torch.randn(*IDS, DIM, generator=g)
    rows = table[slice(*shard_range(VOCAB, world_size, rank))].clone()
    cols = table[:, slice(*shard_range(DIM, world_size, rank))].clone()
    emb = torch.nn.Embedding(VOCAB, DIM)
    with torch.no_grad():
        emb.weight.copy_(table)

    def peer_forward() -> object:
        with torch.no_grad():
            return emb(ids)

    def peer_backward() -> object:
        emb.weight.grad = None
        emb(ids).backward(grad_output)
        return emb.weight.grad

    return [
        _abba(lambda: vocab_parallel_embedding(ids, rows, VOCAB), peer_forward, rounds),
        _abba(lambda: dim_parallel_embedding(ids, cols, DIM), peer_forward, rounds),
        _abba(lambda: vocab_parallel_embedding_backward(ids, grad_output, VOCAB), peer_backward, rounds),
    ]  # fmt: skip


def run(device: str) -> Section:
    section = Section(
        name="parallel_embedding",
        title=(
            f"Parallel embeddings ({WORLD_SIZE} local ranks, gloo) vs one nn.Embedding, "
            f"[{VOCAB}, {DIM}] float32, ids {list(IDS)}"
        ),
        headers=["operation", "reference", "nn.Embedding", "reference / nn.Embedding"],
        torch_threads=1,
    )
    if device != "cpu":
        section.notes.append(
            "Only CPU (gloo) is measured: ranks of one launch share a single machine, "
            "and NCCL needs one GPU per rank."
        )
    timings = launch(_rank, WORLD_SIZE, ROUNDS, timeout=600)[0]
    names = [
        "forward, vocabulary split (lookup + all-reduce)",
        "forward, dimension split (lookup + all-gather)",
        "backward, vocabulary split (shard gradient, no communication)",
    ]
    for name, (ratio, ours, peer) in zip(names, timings, strict=True):
        section.add(name, fmt_s(ours), fmt_s(peer), fmt_ratio(ratio))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    section.notes.append(
        f"One torch thread per rank ({WORLD_SIZE} ranks share the machine's cores). The "
        "peer holds the whole table in every rank; the reference holds a quarter of it and "
        "exchanges the 8 MiB output instead; below 1x the reference is faster. The "
        "peer's backward builds the dense gradient of the whole table (64 MiB) on every "
        "call, the reference's only its quarter, with no communication. Ratio: median of "
        f"{ROUNDS} interleaved ABBA rounds, each block timed by its slowest rank. "
        f"Load average when the run ended: {load:.1f}."
    )
    return section
