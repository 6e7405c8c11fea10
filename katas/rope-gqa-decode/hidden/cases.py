"""The memory case: decode_attention of 32 query heads over 8 kv heads (Mistral 7B's
attention) against a 128 MiB cache.

The cache is float32 `[2, 8, 8192, 128]`: 64 MiB of keys, 64 MiB of values, built once
in the worker (filled by torch's `normal_` under a fixed seed, so the candidate's and
the reference's workers hold the same values and nothing large crosses the channel).
Every call sends a fresh query `[2, 32, 128]` and fresh lengths near 8100 and 5000.

What an answer allocates per call (measured on a CPU):
- the reference: scores and weights `[2, 8, 4, longest]` in float32, 2 MiB each, and
  their masked and scaled copies: a peak of about 10 MiB;
- a copy of the valid keys (`.contiguous()` of the sliced cache, say): 63 MiB more
  (73 MiB peak); a float64 upcast twice that;
- K and V repeated per query head (`repeat_interleave`, or `expand` + `reshape`): 4x
  each, 512 MiB peak; a matmul that broadcasts a group axis of q against the
  unrepeated keys expands and copies them inside matmul: 259 MiB peak.

The budget, twice the reference's peak plus 8 MiB, is about 28 MiB: the grouped matmul
(and SDPA with enable_gqa, 2 MiB) passes by a factor of 2.8 or more, one copy of the
keys fails by a factor of 2.6.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.judge.measuring import Case
from grader.judge.remote import keep, manual_seed

BATCH, N_HEADS, N_KV_HEADS, MAX_LEN, HEAD_DIM = 2, 32, 8, 8192, 128


def resident_cache(impl: Any, device: str) -> tuple[Any, Any]:
    """k_cache and v_cache living in `impl`'s worker, the same values on either side."""
    q = torch.ones(1, 2, 4, device=device)
    small = torch.ones(1, 1, 3, 4, device=device)
    anchor = keep(impl.decode_attention, q, small, small, torch.tensor([2], device=device))
    shape = (BATCH, N_KV_HEADS, MAX_LEN, HEAD_DIM)
    manual_seed(impl, 0)
    k_cache = keep(anchor.new_empty, shape, dtype=torch.float32)
    keep(k_cache.normal_)
    v_cache = keep(anchor.new_empty, shape, dtype=torch.float32)
    keep(v_cache.normal_)
    return k_cache, v_cache


def queries(device: str, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3000 + i)
    q = torch.randn(BATCH, N_HEADS, HEAD_DIM, generator=g).to(device)
    lengths = torch.tensor([MAX_LEN - 100 - i, 5000 + i], device=device)
    return q, lengths


def memory_case(impl: Any, device: str) -> Case:
    """decode_attention(q, k_cache, v_cache, lengths) against the resident cache."""
    k_cache, v_cache = resident_cache(impl, device)
    return Case(
        call=lambda q, lengths: impl.decode_attention(q, k_cache, v_cache, lengths),
        inputs=lambda i: queries(device, i),
    )
