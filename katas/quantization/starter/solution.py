"""Int8 / int4 weight quantization. See PROMPT.md for the full statement."""

from __future__ import annotations

from torch import Tensor


def quantize(
    w: Tensor, bits: int = 8, symmetric: bool = True, group_size: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(q [rows, cols] int8 or uint8, scale float32 [rows, n_groups],
    zero_point int32 [rows, n_groups]) for a 2-D weight."""
    raise NotImplementedError


def dequantize(
    q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None = None
) -> Tensor:
    """float32 (q - zero_point) * scale, each element with its group's parameters."""
    raise NotImplementedError


def quant_matmul(
    x: Tensor, q: Tensor, scale: Tensor, zero_point: Tensor, group_size: int | None = None
) -> Tensor:
    """float32 x @ dequantize(q, scale, zero_point, group_size).T, without a float
    copy of the whole weight."""
    raise NotImplementedError


def sqnr_db(w: Tensor, w_hat: Tensor) -> float:
    """10 * log10(sum(w^2) / sum((w - w_hat)^2)), in dB."""
    raise NotImplementedError


def pack_int4(q: Tensor) -> Tensor:
    """uint8 [..., n // 2]: element 2i in the low nibble, element 2i + 1 in the high one."""
    raise NotImplementedError


def unpack_int4(packed: Tensor, signed: bool) -> Tensor:
    """The inverse of pack_int4: int8 in [-8, 7] if signed, else uint8 in [0, 15]."""
    raise NotImplementedError
