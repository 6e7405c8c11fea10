"""The memory case for the quantization kata: quant_matmul on a 4096 x 4096 weight.

The int8 weight is 16 MiB; its float32 copy would be 64 MiB. The reference dequantizes
256 output rows at a time (4 MiB of float32 per block, a few such temporaries alive at
once), so its peak is a small fraction of the float copy. Dequantizing the whole
weight at once costs the float copy plus its int32 and gathered-scale temporaries.

The quantized weight is built once, in the worker, by the implementation's own
`quantize` of a seeded weight that goes over as 16 MiB of int8 (as in serving, the
weight is fixed and the activations change); every call sends fresh activations
x [8, 4096] (128 KiB) and passes the weight by handle.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.judge.measuring import Case
from grader.judge.remote import keep

N = 4096
BATCH = 8
GROUP = 128


def activations(device: str, seed: int) -> tuple[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(BATCH, N, generator=g).to(device),)


def resident_weight(impl: Any, device: str, seed: int) -> tuple[Any, Any, Any]:
    """(q, scale, zero_point) living in `impl`'s worker, group-wise int8 asymmetric.

    The float weight is rebuilt in the worker from int8 values (w = q / 64), so only
    16 MiB cross: a kept tensor (a tiny quantize's q) makes an int8 buffer there
    (`new_zeros`, a torch method), `copy_` fills it, and torch's own `div` gives the
    float weight that the implementation's quantize then quantizes.
    """
    g = torch.Generator().manual_seed(seed)
    values = torch.randint(-127, 128, (N, N), generator=g, dtype=torch.int8).to(device)
    anchor, _, _ = keep(impl.quantize, torch.ones(1, 2, device=device), 8, True, None)
    buffer = keep(anchor.new_zeros, (N, N), dtype=torch.int8)
    keep(buffer.copy_, values)
    w = keep(buffer.div, 64.0)
    q, scale, zero_point = keep(impl.quantize, w, 8, False, GROUP)
    del w
    return q, scale, zero_point


def memory_case(impl: Any, device: str) -> Case:
    """quant_matmul of fresh x [8, 4096] by a resident 4096 x 4096 int8 weight."""
    # A small call first: what any first call sets up once is not the matmul's footprint.
    small = torch.ones(4, 256, device=device)
    small_q, small_s, small_z = keep(impl.quantize, small, 8, False, GROUP)
    impl.quant_matmul(torch.ones(2, 256, device=device), small_q, small_s, small_z, GROUP)
    q, scale, zero_point = resident_weight(impl, device, seed=1)
    return Case(
        call=lambda x: impl.quant_matmul(x, q, scale, zero_point, GROUP),
        inputs=lambda i: activations(device, seed=2000 + i),
    )
