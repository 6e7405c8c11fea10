"""The memory case: forward and backward of one causal head at N = 4096, d = 64, float32.

q, k, v and dout are 1 MiB each; the full score matrix would be 4096 x 4096 float32,
64 MiB, and a softmax over it at least one more such matrix. The reference keeps tiles
of 128 x 128 scores (64 KiB) and O(N d) buffers (the output, and float32 dq, dk, dv in
the backward), a few MiB in all. Anything that builds the N x N scores, in the forward
or in the backward, is far over a budget of twice the reference's peak plus 16 MiB.

Each measured call runs the forward, then the backward on the exact out and lse of the
same inputs, computed here by the reference (not measured); both results are compared
with the reference's. Every call gets fresh inputs.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.judge.measuring import Case
from reference.flash_attention import flash_attention

N = 4096
HEAD_DIM = 64


def tensors(device: str, seed: int, n: int = N) -> tuple[torch.Tensor, ...]:
    """(q, k, v, out, lse, dout): q, k, v, dout [1, 1, n, HEAD_DIM] float32."""
    g = torch.Generator().manual_seed(seed)
    q, k, v, dout = (torch.randn(1, 1, n, HEAD_DIM, generator=g) for _ in range(4))
    out, lse = flash_attention(q, k, v, causal=True)
    return tuple(t.to(device) for t in (q, k, v, out, lse, dout))


def forward_and_backward(impl: Any, *args: Any) -> object:
    q, k, v, out, lse, dout = args
    forward = impl.flash_attention(q, k, v, causal=True)
    return forward, impl.flash_attention_backward(q, k, v, out, lse, dout, causal=True)


def memory_case(impl: Any, device: str) -> Case:
    """Causal forward and backward with the implementation's own tile sizes."""
    # A small call first: what any first call sets up once is not the tiles' footprint.
    forward_and_backward(impl, *tensors(device, seed=0, n=64))
    return Case(
        call=lambda *args: forward_and_backward(impl, *args),
        inputs=lambda i: tensors(device, seed=1000 + i),
    )
