"""Memory and speed cases: decode-step appends into a cache that already holds `size` tokens.

Both sides run in workers of their own (`grader.judge.measuring`); what is built here
is built the same way for the candidate and the reference.

Speed: one timed call is STEPS decode steps of one layer, one `update` each, in one
round trip (`batch`): step j appends one token per sequence at position size + j, so
the cache reads back size + j + 1 tokens. Every call re-decodes the same positions
with fresh keys and values (rewriting is allowed in the contiguous cache), so repeated
calls measure the same thing. One `update` costs microseconds, far below a round
trip; STEPS of them, each result sampled on the way back, make a call of a few ms.
A preallocated cache writes `batch` tokens and returns views whatever `size` is: its
time does not move from 1k to 8k tokens. A cache that grows with `torch.cat`, or
copies its keys on the way out, moves every cached token on every step: its time
grows with `size` (figures in kata.yaml). Shapes are Mistral's (8 kv heads of 128),
so that at 8k the copy, not the call overhead, dominates; on a GPU, where a kernel
launch costs more than copying a few MB, a batch of 8 in bfloat16 does the same.

Each step's result is views of the cache, sampled after the call's last step: the
later steps write past the earlier views' ends, so a view read late holds what it
held when returned, and a cache that returns copies compares equal too.

Memory: one append at 4096 cached tokens on the second of two layers. A preallocated
cache allocates index tensors of a few KB (measured: 0-4 KB resident, the reference
70-80 KB); a reallocating one at least one sequence's cached keys (8 MiB here) or the
layer's whole cache (16 MiB per tensor). Building the case is the setup footprint,
compared with the reference's: the two buffers (64 MiB), plus what the worker's first
update and first sample page in (about 50 MiB, the same for every solution).
"""

from __future__ import annotations

from typing import Any

import torch

from grader.judge.measuring import Case
from grader.judge.remote import batch, keep
from reference.components import Components
from reference.divergence import first_divergence, tiny_model

N_KV_HEADS, HEAD_DIM = 8, 128
STEPS = 8  # decode steps per timed call
RECENT = 256  # cached tokens per sequence written with random keys and values


def _setup(device: str) -> tuple[int, torch.dtype]:
    """Batch and dtype per device: the copy must dominate the call overhead at 8k."""
    if device == "cuda":
        return 8, torch.bfloat16
    return 1, torch.float32


def _filled_cache(
    impl: Any,
    device: str,
    n_layers: int,
    batch_size: int,
    cached: int,
    spare: int,
    dtype: torch.dtype,
    n_kv_heads: int = N_KV_HEADS,
    head_dim: int = HEAD_DIM,
) -> Any:
    """A cache of capacity cached + spare whose every layer holds `cached` tokens per sequence.

    Only the last RECENT of them are written here; the others are the zero vectors the
    cache was built with. The cache keeps no position state, so to it they are tokens
    like any other, and what an append costs depends on `cached` (start_pos), not on
    what was written. Sending all of them would move 2 x 16 MiB per layer, and a
    request's bytes stay resident in the worker until its garbage collector runs:
    the setup footprint (compared with the reference's) would then depend on when
    that happens rather than on the cache.
    """
    cache = impl.KVCache(
        n_layers, batch_size, cached + spare, n_kv_heads, head_dim, dtype=dtype, device=device
    )
    recent = min(RECENT, cached)
    g = torch.Generator().manual_seed(0)
    shape = (batch_size, recent, n_kv_heads, head_dim)
    start = torch.full((batch_size,), cached - recent, dtype=torch.long)
    for layer in range(n_layers):
        k = torch.randn(shape, generator=g).to(device, dtype)
        v = torch.randn(shape, generator=g).to(device, dtype)
        # keep: the result (views of the whole cache) stays in the worker instead of
        # crossing back; the handles are dropped with the next request.
        keep(cache.update, layer, k, v, start)
    return cache


def speed_case(impl: Any, device: str, size: int | None) -> Case:
    cached = size or 8192
    batch_size, dtype = _setup(device)
    cache = _filled_cache(impl, device, 1, batch_size, cached, STEPS, dtype)
    update = cache.update  # looked up once, not in the timed calls

    def inputs(i: int) -> tuple[Any, ...]:
        g = torch.Generator().manual_seed(1000 + i)
        shape = (STEPS, batch_size, 1, N_KV_HEADS, HEAD_DIM)  # one decode token per step
        k = torch.randn(shape, generator=g).to(device, dtype)
        v = torch.randn(shape, generator=g).to(device, dtype)
        # Host bookkeeping, as an engine keeps it: step j at position cached + j.
        start = [torch.full((batch_size,), cached + j, dtype=torch.long) for j in range(STEPS)]
        return k, v, start

    def call(k: torch.Tensor, v: torch.Tensor, start: list[torch.Tensor]) -> object:
        return batch([(update, (0, k[j], v[j], start[j])) for j in range(STEPS)])

    return Case(call, inputs)


def memory_case(impl: Any, device: str) -> Case:
    cached, batch_size, n_kv_heads, head_dim = 4096, 2, 8, 64
    cache = _filled_cache(
        impl, device, 2, batch_size, cached, 1, torch.float32, n_kv_heads, head_dim
    )
    update = cache.update

    def inputs(i: int) -> tuple[Any, ...]:
        g = torch.Generator().manual_seed(2000 + i)
        k = torch.randn(batch_size, 1, n_kv_heads, head_dim, generator=g).to(device)
        v = torch.randn(batch_size, 1, n_kv_heads, head_dim, generator=g).to(device)
        return k, v, torch.full((batch_size,), cached, dtype=torch.long)

    def call(k: torch.Tensor, v: torch.Tensor, start: torch.Tensor) -> object:
        return update(1, k, v, start)

    return Case(call, inputs)


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


def integration_case(impl: Any, device: str) -> str | None:
    """Your caches inside the reference engine: a tiny Mistral with a sliding window of 8
    generates past the window, once with the contiguous cache and once with the rolling
    buffer; the tokens and every layer's hidden states must match the reference engine."""
    model = tiny_model(window=8, device=device)
    components = Components(kv_cache=impl.KVCache, rolling_kv_cache=impl.RollingKVCache)
    for cache in ("contiguous", "rolling"):
        difference = first_divergence(model, INTEGRATION_PROMPTS, 14, components, cache=cache)
        if difference is not None:
            return f"with the {cache} cache, {difference}"
    return None
