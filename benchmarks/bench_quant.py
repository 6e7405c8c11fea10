"""reference.quant against torch's own quantization primitives.

- quantize: int8 per channel, symmetric and asymmetric, against torch.ao's
  PerChannelMinMaxObserver (the parameters) plus torch.quantize_per_channel (the
  values), the peer the reference is tested against;
- dequantize: against a quantized tensor's own `.dequantize()`;
- quant_matmul (x [8, K] by an int8 weight [N, K], groups of 128): against the obvious
  version that dequantizes the whole weight first, then multiplies.

Ratios are the peer's time over the reference's (above 1: the reference is faster).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor
from torch.ao.quantization.observer import PerChannelMinMaxObserver

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.quant import dequantize, quant_matmul, quantize

ROWS, COLS = 4096, 4096
GROUP = 128


def torch_quantize(w: Tensor, symmetric: bool) -> Tensor:
    """The peer: an observer's per-channel parameters, then quantize_per_channel."""
    if symmetric:
        obs = PerChannelMinMaxObserver(
            ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
            quant_min=-127, quant_max=127,
        )  # fmt: skip
    else:
        obs = PerChannelMinMaxObserver(
            ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine
        )
    obs(w)
    scale, zero_point = obs.calculate_qparams()
    dtype = torch.qint8 if symmetric else torch.quint8
    return torch.quantize_per_channel(w, scale.double(), zero_point.long(), 0, dtype)


def run(device: str) -> Section:
    section = Section(
        name="quant",
        title=f"Weight quantization: reference vs torch, [{ROWS}, {COLS}] float32 ({device})",
        headers=["operation", "reference", "peer", "peer / reference"],
    )
    if device != "cpu":
        section.notes.append("torch's quantized tensors run on the CPU only: not measured.")
        return section
    g = torch.Generator().manual_seed(0)
    w = torch.randn(ROWS, COLS, generator=g)
    x = torch.randn(8, COLS, generator=g)
    warnings.simplefilter("ignore")  # quantized tensors are deprecated; still the peer
    q_sym, s_sym, z_sym = quantize(w, 8, True)
    peer_sym = torch_quantize(w, True)
    q_grp, s_grp, z_grp = quantize(w, 8, False, GROUP)
    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("quantize, int8 symmetric per channel",
         lambda: quantize(w, 8, True), lambda: torch_quantize(w, True)),
        ("quantize, int8 asymmetric per channel",
         lambda: quantize(w, 8, False), lambda: torch_quantize(w, False)),
        ("dequantize, int8 symmetric per channel",
         lambda: dequantize(q_sym, s_sym, z_sym), peer_sym.dequantize),
        (f"x [8, {COLS}] @ int8 weight, groups of {GROUP}",
         lambda: quant_matmul(x, q_grp, s_grp, z_grp, GROUP),
         lambda: x @ dequantize(q_grp, s_grp, z_grp, GROUP).T),
    ]  # fmt: skip
    for name, ours, peer in rows:
        result = compare(peer, ours)
        section.add(name, fmt_s(result.b_s), fmt_s(result.a_s), fmt_ratio(result.ratio))
    section.notes.append(
        "torch quantizes and dequantizes in fused per-channel kernels; the reference is "
        "plain tensor arithmetic (a division, a rounding, a clamp, each a pass over the "
        "weight), written to be read."
    )
    section.notes.append(
        "The matmul's peer dequantizes the whole weight first (64 MiB of float32 for this "
        "weight); the reference dequantizes a block of rows at a time, which is what the "
        "kata's memory case asks."
    )
    return section
