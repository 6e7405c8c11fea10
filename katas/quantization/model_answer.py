"""Weight quantization: int8 / int4, symmetric or asymmetric, per channel or per group."""

from __future__ import annotations

import math

import torch
from torch import Tensor

BLOCK = 256  # output rows dequantized at a time in quant_matmul


def quantize(
    w: Tensor, bits: int = 8, symmetric: bool = True, group_size: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(q [rows, cols], scale float32 [rows, n_groups], zero_point int32 [rows, n_groups])."""
    if w.dim() != 2 or w.shape[1] == 0:
        raise ValueError(f"w must be 2-D with at least one column, got {tuple(w.shape)}")
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    rows, cols = w.shape
    size = cols if group_size is None else group_size
    if size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    n_groups = -(-cols // size)
    # Pad the short last group with zeros: both ranges contain 0 anyway.
    g = torch.zeros(rows, n_groups * size, dtype=torch.float32, device=w.device)
    g[:, :cols] = w
    g = g.view(rows, n_groups, size)
    if symmetric:
        top = 2 ** (bits - 1) - 1  # 127 / 7: the restricted range
        low = -top
        scale = g.abs().amax(dim=-1) / top
    else:
        top, low = 2**bits - 1, 0
        lo = g.amin(dim=-1).clamp(max=0.0)
        hi = g.amax(dim=-1).clamp(min=0.0)
        scale = (hi - lo) / top
    scale = torch.where(scale == 0, 1.0, scale)  # all-zero group
    if symmetric:
        zero_point = torch.zeros(rows, n_groups, dtype=torch.int32, device=w.device)
    else:
        zero_point = torch.round(-lo / scale).clamp(0, top).to(torch.int32)
    q = torch.round(g / scale[..., None]) + zero_point[..., None]
    q = q.clamp(low, top).reshape(rows, -1)[:, :cols]
    return q.to(torch.int8 if symmetric else torch.uint8), scale, zero_point


def dequantize(
    q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None = None
) -> Tensor:
    """float32 (q - zero_point) * scale, each element with its own group's parameters."""
    cols = q.shape[1]
    size = cols if group_size is None else group_size
    group_of = torch.arange(cols, device=q.device) // size  # [cols]
    centred = q.to(torch.int32) - zero_point[:, group_of]
    return centred.to(torch.float32) * scale[:, group_of]


def quant_matmul(
    x: Tensor, q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None = None
) -> Tensor:
    """x @ dequantize(q, ...).T, dequantizing BLOCK output rows at a time."""
    rows = q.shape[0]
    x = x.to(torch.float32)
    out = torch.empty(*x.shape[:-1], rows, dtype=torch.float32, device=x.device)
    for start in range(0, rows, BLOCK):
        end = min(start + BLOCK, rows)
        w = dequantize(q[start:end], scale[start:end], zero_point[start:end], group_size)
        out[..., start:end] = x @ w.T
    return out


def sqnr_db(w: Tensor, w_hat: Tensor) -> float:
    """10 log10(sum w^2 / sum (w - w_hat)^2), summed in float64."""
    signal = float(w.double().square().sum())
    noise = float((w.double() - w_hat.double()).square().sum())
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def pack_int4(q: Tensor) -> Tensor:
    """uint8 [..., n // 2]: element 2i in the low nibble, 2i + 1 in the high nibble."""
    if q.dtype == torch.int8:
        low, high = -8, 7
    elif q.dtype == torch.uint8:
        low, high = 0, 15
    else:
        raise ValueError(f"q must be int8 or uint8, got {q.dtype}")
    if q.shape[-1] % 2 != 0:
        raise ValueError(f"last axis must be even, got {q.shape[-1]}")
    if q.numel() > 0 and (int(q.min()) < low or int(q.max()) > high):
        raise ValueError(f"values must be in [{low}, {high}]")
    nib = q.to(torch.int32) & 0xF  # two's complement nibble for negatives
    return (nib[..., 0::2] | (nib[..., 1::2] << 4)).to(torch.uint8)


def unpack_int4(packed: Tensor, signed: bool) -> Tensor:
    """Inverse of pack_int4: int8 in [-8, 7] if signed, else uint8 in [0, 15]."""
    b = packed.to(torch.int32)
    lo = b & 0xF
    hi = (b >> 4) & 0xF
    out = torch.stack([lo, hi], dim=-1).flatten(-2)
    if signed:
        out = torch.where(out >= 8, out - 16, out)
        return out.to(torch.int8)
    return out.to(torch.uint8)
