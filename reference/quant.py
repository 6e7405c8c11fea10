"""Weight-only quantization: int8 / int4, symmetric or asymmetric, per channel or per group.

A weight is `[out_features, in_features]`; a channel is a row (an output feature), the
axis `torch.quantize_per_channel(..., axis=0)` uses. A row is cut into groups of
`group_size` consecutive elements (`None`: one group per row, i.e. per channel); when
the row length is not a multiple, the last group is shorter and gets its own scale.

Conventions (every one is a place where public implementations disagree):

- Symmetric: `scale = max|w| / qmax`, `q = clamp(round(w / scale), -qmax, qmax)` with
  `qmax = 127` (int8) or `7` (int4): the restricted range, so `-q` is always
  representable and 0 sits exactly in the middle. `q` is `torch.int8`, zero point 0.
- Asymmetric: the range is `[min(w, 0), max(w, 0)]` (it always contains 0, as
  torch.ao's MinMax observers do, so 0.0 is exact and the zero point needs no clamp),
  `scale = (hi - lo) / qmax` with `qmax = 255` or `15`, `zero_point = round(-lo / scale)`
  in `[0, qmax]`, `q = clamp(round(w / scale) + zero_point, 0, qmax)` as `torch.uint8`.
- `round` is round half to even (`torch.round`); `w / scale` is a float32 division.
- A group whose scale would be 0 (all zeros) gets scale 1.0: every q is the zero point
  and dequantizes to exactly 0, with no 0/0.
- Dequantize: `(q - zero_point) * scale`, float32.
- int4 packing: two values per byte along the last axis, the even element in the low
  nibble; signed values are stored as 4-bit two's complement (-1 -> 0xF, -8 -> 0x8).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# Output rows dequantized at a time by `quant_matmul`: a [256, in] float32 block is
# 4 MiB at in=4096, against 64 MiB for the whole 4096 x 4096 weight.
MATMUL_BLOCK = 256


def qmax(bits: int, symmetric: bool) -> int:
    """The largest stored value: 127 / 7 symmetric (restricted), 255 / 15 asymmetric."""
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    return (1 << (bits - 1)) - 1 if symmetric else (1 << bits) - 1


def _groups(w: Tensor, group_size: int | None) -> tuple[Tensor, int]:
    """`w` as float32 `[rows, n_groups, group_size]`, the short last group padded with 0.

    Zero padding changes no group's range: both ranges below already include 0.
    """
    rows, cols = w.shape
    size = cols if group_size is None else group_size
    if size < 1:
        raise ValueError(f"group_size must be >= 1 or None, got {group_size}")
    n_groups = max(1, math.ceil(cols / size)) if cols else 0
    padded = torch.zeros(rows, n_groups * size, dtype=torch.float32, device=w.device)
    padded[:, :cols] = w
    return padded.view(rows, n_groups, size), size


def quantize(
    w: Tensor, bits: int = 8, symmetric: bool = True, group_size: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Quantize a 2-D weight row by row (or group by group within rows).

    Returns `(q, scale, zero_point)`: `q` `[rows, cols]` (int8 symmetric, uint8
    asymmetric, one value per element, unpacked), `scale` float32 and `zero_point` int32,
    both `[rows, n_groups]` with `n_groups = ceil(cols / group_size)` (1 per channel).
    """
    if w.dim() != 2:
        raise ValueError(f"w must be 2-D [out_features, in_features], got shape {tuple(w.shape)}")
    top = qmax(bits, symmetric)
    rows, cols = w.shape
    if cols < 1:
        raise ValueError("w must have at least one column")
    g, _ = _groups(w, group_size)  # [rows, n_groups, size]
    if symmetric:
        scale = g.abs().amax(dim=-1) / top
        zero_point = torch.zeros_like(scale, dtype=torch.int32)
    else:
        lo = g.amin(dim=-1).clamp(max=0.0)
        hi = g.amax(dim=-1).clamp(min=0.0)
        scale = (hi - lo) / top
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)  # all-zero group: no 0/0
    if not symmetric:
        # lo <= 0 <= hi puts -lo / scale in [0, top]; the clamp only guards float error.
        zero_point = torch.round(-lo / scale).clamp(0, top).to(torch.int32)
    low = -top if symmetric else 0
    q = torch.round(g / scale[..., None]) + zero_point[..., None]
    q = q.clamp(low, top).reshape(rows, -1)[:, :cols]
    return q.to(torch.int8 if symmetric else torch.uint8), scale, zero_point


def dequantize(
    q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None = None
) -> Tensor:
    """float32 `(q - zero_point) * scale`, each element with its group's parameters."""
    rows, cols = q.shape
    size = cols if group_size is None else max(group_size, 1)
    # Stored values are small integers, exact in float32: subtracting there is exact.
    shifted = q.to(torch.float32)
    if cols % size == 0:  # whole groups: broadcast each group's parameters over it
        groups = shifted.view(rows, cols // size, size)
        return ((groups - zero_point[..., None]) * scale[..., None]).view(rows, cols)
    per_col = torch.arange(cols, device=q.device) // size  # group of each column
    return (shifted - zero_point[:, per_col]) * scale[:, per_col]


def quant_matmul(
    x: Tensor, q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None = None
) -> Tensor:
    """`x @ dequantize(q, ...).T`, float32 `[..., out_features]`, without the float weight.

    Dequantizes `MATMUL_BLOCK` output rows at a time, so the extra memory is a few
    blocks, not a float32 copy of the whole weight (4x the int8 weight itself).
    """
    rows = q.shape[0]
    x = x.to(torch.float32)
    out = torch.empty(*x.shape[:-1], rows, dtype=torch.float32, device=x.device)
    for start in range(0, rows, MATMUL_BLOCK):
        end = min(start + MATMUL_BLOCK, rows)
        block = q[start:end], scale[start:end], zero_point[start:end]
        out[..., start:end] = _times_dequantized(x, *block, group_size)
    return out


def _times_dequantized(
    x: Tensor, q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None
) -> Tensor:
    """`x @ dequantize(q, scale, zero_point, group_size).T` for one block of rows."""
    if group_size is None or group_size >= q.shape[1]:
        # One scale per row: x @ ((q - z) s).T = (x @ q.T - sum(x) z) s, which saves two
        # passes over the block (subtracting and scaling every weight).
        product = x @ q.to(torch.float32).T - x.sum(-1, keepdim=True) * zero_point[:, 0]
        return product * scale[:, 0]
    return x @ dequantize(q, scale, zero_point, group_size).T


def sqnr_db(w: Tensor, w_hat: Tensor) -> float:
    """Signal to quantization-noise ratio, `10 log10(sum w^2 / sum (w - w_hat)^2)` in dB.

    Summed in float64: float32 sums of a million squares lose the small error terms.
    No error at all is `inf` (an all-zero weight included); error on a zero signal `-inf`.
    """
    signal = w.double().square().sum().item()
    noise = (w.double() - w_hat.double()).square().sum().item()
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def pack_int4(q: Tensor) -> Tensor:
    """Two 4-bit values per byte along the last axis: element 2i low nibble, 2i+1 high.

    `q` is int8 in [-8, 7] (stored as 4-bit two's complement) or uint8 in [0, 15]; the
    last axis must be even. Returns uint8 `[..., n // 2]`.
    """
    if q.shape[-1] % 2:
        raise ValueError(f"the last axis must have an even length, got {q.shape[-1]}")
    low, high = (-8, 7) if q.dtype == torch.int8 else (0, 15)
    if q.dtype not in (torch.int8, torch.uint8):
        raise ValueError(f"q must be int8 or uint8, got {q.dtype}")
    if q.numel() and (int(q.min()) < low or int(q.max()) > high):
        raise ValueError(f"{q.dtype} values must be in [{low}, {high}] to fit 4 bits")
    nibbles = q.to(torch.int32) & 0xF  # two's complement: -1 -> 15, -8 -> 8
    return (nibbles[..., 0::2] | (nibbles[..., 1::2] << 4)).to(torch.uint8)


def unpack_int4(packed: Tensor, signed: bool) -> Tensor:
    """The inverse of `pack_int4`: int8 in [-8, 7] when `signed`, else uint8 in [0, 15]."""
    b = packed.to(torch.int32)
    nibbles = torch.stack([b & 0xF, b >> 4], dim=-1).flatten(-2)  # [..., 2n], low first
    if signed:
        nibbles = nibbles - ((nibbles & 0x8) << 1)  # 8..15 -> -8..-1
        return nibbles.to(torch.int8)
    return nibbles.to(torch.uint8)
