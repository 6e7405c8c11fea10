"""Memory and speed cases: one decode-step append into a cache that already holds `size` tokens.

Speed: the callable appends one token per sequence at position `size` of layer 0,
every call at the same position (the cache stays at size + 1 tokens, so repeated
calls measure the same thing). A preallocated cache writes `batch` tokens and
returns views whatever `size` is: its time does not move from 1k to 8k tokens
(measured 0.99x to 1.02x). A cache that grows with `torch.cat`, or copies its keys
on the way out, moves every cached token on every call: measured 12x to 15x from
1k to 8k on a CPU, 4x to 7x on an H100. Shapes are Mistral's (8 kv heads of 128),
so that at 8k the copy, not the call overhead, dominates; on a GPU, where a kernel
launch costs more than copying a few MB, a batch of 8 in bfloat16 does the same.

Memory: the same append at 4096 cached tokens on the second of two layers. A
preallocated cache allocates index tensors of a few KB (memray: 2.7 KB for the
model answer, 3.4 KB for the reference); a reallocating one at least the layer's
whole cache (16 MiB per tensor here; 33.5 MB measured for torch.cat).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

from reference.divergence import first_divergence, tiny_model
from reference.engine import Components

N_KV_HEADS, HEAD_DIM = 8, 128


def _setup(device: str) -> tuple[int, torch.dtype]:
    """Batch and dtype per device: the copy must dominate the call overhead at 8k."""
    if device == "cuda":
        return 8, torch.bfloat16
    return 1, torch.float32


def _filled_cache(
    impl: ModuleType,
    device: str,
    n_layers: int,
    batch: int,
    cached: int,
    dtype: torch.dtype,
    n_kv_heads: int = N_KV_HEADS,
    head_dim: int = HEAD_DIM,
) -> Any:
    """A cache of capacity cached + 1 whose every layer holds `cached` tokens per sequence."""
    cache = impl.KVCache(
        n_layers, batch, cached + 1, n_kv_heads, head_dim, dtype=dtype, device=device
    )
    g = torch.Generator().manual_seed(0)
    prompt = torch.randn(batch, cached, n_kv_heads, head_dim, generator=g).to(device, dtype)
    zeros = torch.zeros(batch, dtype=torch.long)
    for layer in range(n_layers):
        cache.update(layer, prompt, prompt, zeros)
    return cache


def speed_case(impl: ModuleType, device: str, size: int | None) -> Callable[[], object]:
    cached = size or 8192
    batch, dtype = _setup(device)
    cache = _filled_cache(impl, device, 1, batch, cached, dtype)
    g = torch.Generator().manual_seed(1)
    k1 = torch.randn(batch, 1, N_KV_HEADS, HEAD_DIM, generator=g).to(device, dtype)
    v1 = torch.randn(batch, 1, N_KV_HEADS, HEAD_DIM, generator=g).to(device, dtype)
    pos = torch.full((batch,), cached, dtype=torch.long)  # host bookkeeping, as an engine keeps it

    def step() -> object:
        return cache.update(0, k1, v1, pos)

    return step


def memory_case(impl: ModuleType, device: str) -> Callable[[], object]:
    cached, batch, n_kv_heads, head_dim = 4096, 2, 8, 64
    cache = _filled_cache(impl, device, 2, batch, cached, torch.float32, n_kv_heads, head_dim)
    g = torch.Generator().manual_seed(2)
    k1 = torch.randn(batch, 1, n_kv_heads, head_dim, generator=g).to(device)
    v1 = torch.randn(batch, 1, n_kv_heads, head_dim, generator=g).to(device)
    pos = torch.full((batch,), cached, dtype=torch.long)

    def step() -> object:
        return cache.update(1, k1, v1, pos)

    return step


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


def integration_case(impl: ModuleType, device: str) -> str | None:
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
