"""KV cache decode steps: the preallocated reference against a cache grown with torch.cat.

One decode step appends one token per sequence (Mistral's 8 kv heads of 128) to a
cache holding N tokens, and returns what attention reads. The reference writes
`batch` tokens into its buffers and returns views, so its time should not move with
N. The baseline is the cache many first versions write (Hugging Face's dynamic cache
style): `torch.cat` of what the layer holds and the new token, which copies all N
cached tokens per step. Both re-append at position N on every call, so each call
measures the same state. Side by side with `grader.judge.timing.compare`.

The rolling buffer's decode step is also set against the contiguous one at the
same length W: its time-ordered read gathers W tokens per sequence once the
buffer has wrapped, the price of returning keys oldest first.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.kv_cache import KVCache, RollingKVCache

N_KV_HEADS, HEAD_DIM = 8, 128
SIZES = [1024, 8192]


class CatCache:
    """The baseline: each layer's keys grow by torch.cat, copying the cache every step."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor) -> None:
        self.k, self.v = k, v  # [batch, n, n_kv_heads, head_dim], one layer

    def update(
        self, k_new: torch.Tensor, v_new: torch.Tensor, start: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.k = torch.cat([self.k[:, :start], k_new], dim=1)
        self.v = torch.cat([self.v[:, :start], v_new], dim=1)
        return self.k, self.v


def _setup(device: str) -> tuple[int, torch.dtype]:
    # On a GPU a bigger batch in bf16, so the copy outweighs kernel launch overhead.
    return (8, torch.bfloat16) if device == "cuda" else (1, torch.float32)


def _tokens(batch: int, n: int, device: str, dtype: torch.dtype, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n, N_KV_HEADS, HEAD_DIM, generator=g).to(device, dtype)


def _steps(device: str, n: int) -> dict[str, Callable[[], object]]:
    """One decode step at n cached tokens for each cache, ready to time."""
    batch, dtype = _setup(device)
    prompt = _tokens(batch, n, device, dtype, seed=0)
    one = _tokens(batch, 1, device, dtype, seed=1)
    zeros = torch.zeros(batch, dtype=torch.long)
    at_n = torch.full((batch,), n, dtype=torch.long)  # on the CPU, as an engine keeps it

    contiguous = KVCache(1, batch, n + 1, N_KV_HEADS, HEAD_DIM, dtype=dtype, device=device)
    contiguous.update(0, prompt, prompt, zeros)
    rolling = RollingKVCache(1, batch, n, N_KV_HEADS, HEAD_DIM, dtype=dtype, device=device)
    rolling.update(0, prompt, prompt, zeros)
    cat = CatCache(prompt.clone(), prompt.clone())
    return {
        "reference": lambda: contiguous.update(0, one, one, at_n),
        "rolling": lambda: rolling.update(0, one, one, at_n),
        "cat": lambda: cat.update(one, one, n),
    }


def run(device: str) -> Section:
    batch, dtype = _setup(device)
    dtype_name = str(dtype).removeprefix("torch.")
    section = Section(
        name="kv_cache",
        title=f"KV cache decode step (batch {batch}, 8 kv heads x 128, {dtype_name}, {device})",
        headers=[
            "cached tokens",
            "reference",
            "torch.cat",
            "cat / reference",
            "rolling / reference",
        ],
    )
    sync: Callable[[], None] = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    per_size = {}
    for n in SIZES:
        steps = _steps(device, n)
        vs_cat = compare(steps["cat"], steps["reference"], sync=sync)
        vs_rolling = compare(steps["rolling"], steps["reference"], sync=sync)
        per_size[n] = steps
        section.add(
            n,
            fmt_s(vs_cat.b_s),
            fmt_s(vs_cat.a_s),
            fmt_ratio(vs_cat.ratio),
            fmt_ratio(vs_rolling.ratio),
        )
    small, large = per_size[SIZES[0]], per_size[SIZES[-1]]
    ref_growth = compare(large["reference"], small["reference"], sync=sync)
    cat_growth = compare(large["cat"], small["cat"], sync=sync)
    section.notes.append(
        f"Growth from {SIZES[0]} to {SIZES[-1]} cached tokens: reference "
        f"{fmt_ratio(ref_growth.ratio)}, torch.cat {fmt_ratio(cat_growth.ratio)} "
        "(the kv-cache kata's speed case times the same step at the same two sizes). "
        f"The rolling buffer (W = cached tokens) gathers W tokens per sequence to return "
        "them in time order; the contiguous cache returns a view."
    )
    return section
