"""reference.flash_attention against torch's scaled_dot_product_attention (SDPA).

- forward, causal, q, k, v [1, 8 heads (2 kv heads), 2048, 64] in float32 and bfloat16:
  against SDPA with `is_causal` and `enable_gqa` (on the CPU a fused flash-style kernel);
- forward, sliding window of 256 keys: against SDPA with the explicit boolean mask (the
  reference skips the tiles outside the window, SDPA cannot know they are empty);
- backward of the causal case: against autograd through SDPA (the graph kept, only the
  backward timed);
- the engine's entry point on a decode step (one query over 2048 cached keys, batch 8):
  against `reference.attention.attention`.

Ratios are SDPA's time over the reference's (above 1: the reference is faster).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from benchmarks.common import Section, fmt_ratio, fmt_s, single_threaded
from grader.judge.timing import compare
from reference.attention import attention
from reference.flash_attention import (
    BLOCK_K,
    BLOCK_Q,
    flash_attention,
    flash_attention_backward,
    flash_attention_masked,
)
from reference.masks import sliding_window_mask

HEADS, KV_HEADS, N, HEAD_DIM = 8, 2, 2048, 64
WINDOW = 256


def qkv(dtype: torch.dtype, device: str, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, HEADS, N, HEAD_DIM, generator=g)
    k = torch.randn(1, KV_HEADS, N, HEAD_DIM, generator=g)
    v = torch.randn(1, KV_HEADS, N, HEAD_DIM, generator=g)
    return q.to(device, dtype), k.to(device, dtype), v.to(device, dtype)


Row = tuple[str, Callable[[], object], Callable[[], object]]


def causal_forward(dtype: torch.dtype, device: str) -> Row:
    q, k, v = qkv(dtype, device)
    return (
        f"forward, causal, {str(dtype).removeprefix('torch.')}",
        lambda: flash_attention(q, k, v, causal=True),
        lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
    )


def run(device: str) -> Section:
    # Each tile is a handful of small kernels: on a shared 2-core machine a second
    # thread mostly waits at their barriers. Both sides run on one thread.
    return single_threaded(device, _run)


def _run(device: str) -> Section:
    section = Section(
        name="flash_attention",
        title=(
            f"Flash attention: reference vs SDPA, {HEADS} heads over {KV_HEADS} kv heads, "
            f"N = {N}, head_dim {HEAD_DIM} ({device})"
        ),
        headers=["operation", "reference", "SDPA", "SDPA / reference"],
    )
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = [causal_forward(torch.float32, device), causal_forward(torch.bfloat16, device)]
    q, k, v = qkv(torch.float32, device)
    window = sliding_window_mask(N, N, WINDOW, device=device)
    rows.append((
        f"forward, sliding window {WINDOW}, float32",
        lambda: flash_attention(q, k, v, causal=True, window=WINDOW),
        lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=window, enable_gqa=True),
    ))  # fmt: skip
    out, lse = flash_attention(q, k, v, causal=True)
    dout = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(device)
    lq, lk, lv = (t.detach().clone().requires_grad_() for t in (q, k, v))
    graph = F.scaled_dot_product_attention(lq, lk, lv, is_causal=True, enable_gqa=True)
    rows.append((
        "backward, causal, float32",
        lambda: flash_attention_backward(q, k, v, out, lse, dout, causal=True),
        lambda: torch.autograd.grad(graph, (lq, lk, lv), dout, retain_graph=True),
    ))  # fmt: skip
    g = torch.Generator().manual_seed(2)
    dq = torch.randn(8, 1, HEADS, HEAD_DIM, generator=g).to(device)
    dk, dv = (torch.randn(8, N, KV_HEADS, HEAD_DIM, generator=g).to(device) for _ in range(2))
    decode = sliding_window_mask(1, N, None, offset=N - 1, device=device)
    rows.append((
        f"engine entry point, decode step: batch 8, 1 query over {N} keys",
        lambda: flash_attention_masked(dq, dk, dv, decode),
        lambda: attention(dq, dk, dv, decode),
    ))  # fmt: skip
    for name, ours, peer in rows:
        result = compare(peer, ours, sync=sync)
        section.add(name, fmt_s(result.b_s), fmt_s(result.a_s), fmt_ratio(result.ratio))
    section.notes.append(
        f"The reference walks {BLOCK_Q} x {BLOCK_K} tiles in a Python loop, each tile a few "
        "tensor operations over every head at once, written to be read; SDPA runs one fused "
        "kernel. Both keep O(N d) memory; the full score matrix would be "
        f"{N * N * 4 * HEADS // 2**20} MiB of float32 here."
    )
    section.notes.append(
        "With a sliding window the reference skips every tile outside the band, so its "
        "work is O(N W d) rather than O(N^2 d); SDPA is given the window as a dense mask."
    )
    return section
