"""reference.memory_pool against torch's own allocator, on the requests of a decode step.

Each row does the same requests both ways: the reference carves blocks out of its
buffer (a malloc, a typed view where a tensor is asked for, a free), torch makes the
same tensors with `torch.empty` and drops them. On the CPU torch's peer is the system
allocator behind its CPU tensors; on CUDA it is PyTorch's caching allocator, the C++
original of the rules the reference follows. Ratios are torch's time over the
reference's (above 1: the reference is faster).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.memory_pool import MIB, CachingAllocator

KIB = 1 << 10
PER_TOKEN = 2 * KIB  # K or V of one layer: 8 kv heads * 128 dims * bf16
CACHES = 8  # 4 layers, K and V
LENGTH = 600  # tokens: 1.2 MiB per cache, the large pool
WEIGHTS = [(1 + i % 6) * MIB + 512 * i for i in range(32)]  # 1 to 6 MiB, all different


def run(device: str) -> Section:
    section = Section(
        name="memory_pool",
        title=f"Caching allocator: reference vs torch's allocator ({device})",
        headers=["requests", "reference", "torch", "torch / reference"],
    )
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    pool = CachingAllocator(512 * MIB)

    def ours_activation() -> None:
        pool.free(pool.malloc(4 * KIB))

    def ours_view() -> None:
        offset = pool.malloc(4 * KIB)
        pool.tensor(offset, (32, 32), torch.float32)
        pool.free(offset)

    caches = [pool.malloc(LENGTH * PER_TOKEN) for _ in range(CACHES)]
    peer_caches = [
        torch.empty(LENGTH * PER_TOKEN, dtype=torch.uint8, device=device) for _ in range(CACHES)
    ]

    def ours_grow() -> None:
        # One token more for every cache (a new block, the old one freed), then back,
        # so that every call starts from the same state.
        for n in (LENGTH + 1, LENGTH):
            for i in range(CACHES):
                grown = pool.malloc(n * PER_TOKEN)
                pool.free(caches[i])
                caches[i] = grown

    def peer_grow() -> None:
        for n in (LENGTH + 1, LENGTH):
            for i in range(CACHES):
                peer_caches[i] = torch.empty(n * PER_TOKEN, dtype=torch.uint8, device=device)

    def ours_weights() -> None:
        blocks = [pool.malloc(n) for n in WEIGHTS]
        for b in blocks:
            pool.free(b)

    def peer_weights() -> None:
        blocks = [torch.empty(n, dtype=torch.uint8, device=device) for n in WEIGHTS]
        del blocks

    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("a 4 KiB activation: allocate, free", ours_activation,
         lambda: torch.empty(4 * KIB, dtype=torch.uint8, device=device)),
        ("a [32, 32] float32 tensor: allocate, view, free", ours_view,
         lambda: torch.empty(32, 32, dtype=torch.float32, device=device)),
        (f"{CACHES} KV caches of {LENGTH} tokens grow by one token and back (32 requests)",
         ours_grow, peer_grow),
        (f"{len(WEIGHTS)} weights of 1 to 6 MiB: allocate all, free all",
         ours_weights, peer_weights),
    ]  # fmt: skip
    for name, ours, peer in rows:
        result = compare(peer, ours, sync=sync)
        section.add(name, fmt_s(result.b_s), fmt_s(result.a_s), fmt_ratio(result.ratio))
    section.notes.append(
        "The reference is Python bookkeeping (a sorted free list per pool, linked blocks); "
        "torch's allocators are C++. Neither touches the memory it hands out."
    )
    return section
