"""Int8 weights for the reference model: every dense projection stored as int8 codes.

`quantize_weights(model)` replaces each dense projection of a `Transformer` (the fused
`wqkv`, `wo`, `w13`, `w2` and the LM head) with a `QuantizedWeight`: the int8 codes of
its transpose, one symmetric scale per output feature (or per group of input features),
as `reference.quant.quantize` makes them. The model multiplies by it as it does by a
float weight (`project`), through `reference.quant.quant_matmul`, which dequantizes a
block of output features at a time and never holds the float weight.

What stays float: the embedding table (a lookup, not a matmul), the norms, and the MoE
experts (the MoE kernel is a component of its own and takes float tensors).

What it costs: each weight moves by at most half a step of its row's scale. Everything else is the float engine's
arithmetic on the dequantized weights (tests/reference/test_quantized.py); how far the
tokens drift from the float model's is measured in docs/benchmarks.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference.quant import dequantize, quant_matmul, quantize

__all__ = ["QuantizedWeight", "project", "quantize_weights"]

# The dense projections of `reference.model`, stored `[in, out]` and applied as `x @ w`.
PROJECTIONS = ("wqkv", "wo", "w13", "w2", "output")


class QuantizedWeight(nn.Module):
    """A float weight `w [in, out]` as int8 codes of `w.T` with per-output-feature scales."""

    def __init__(self, weight: Tensor, group_size: int | None = None) -> None:
        super().__init__()
        q, scale, zero_point = quantize(weight.T, bits=8, symmetric=True, group_size=group_size)
        self.register_buffer("q", q.contiguous())  # int8 [out, in]
        self.register_buffer("scale", scale)  # float32 [out, n_groups]
        self.register_buffer("zero_point", zero_point)  # int32 zeros (symmetric)
        self.group_size = group_size
        self.dtype = weight.dtype  # what `x @ w` returned before

    def codes(self) -> tuple[Tensor, Tensor, Tensor]:
        """`(q, scale, zero_point)` as `reference.quant.quantize` returned them."""
        return self.get_buffer("q"), self.get_buffer("scale"), self.get_buffer("zero_point")

    def dequantized(self) -> Tensor:
        """The float32 weight `[in, out]` these codes stand for."""
        return dequantize(*self.codes(), self.group_size).T

    def matmul(self, x: Tensor) -> Tensor:
        """`x @ w` for x `[..., in]`: `[..., out]` in the float weight's dtype."""
        out = quant_matmul(x, *self.codes(), self.group_size)
        return out.to(self.dtype)


def project(x: Tensor, w: Tensor | QuantizedWeight) -> Tensor:
    """`x @ w`, whether `w` is a float `[in, out]` weight or its int8 form."""
    return w.matmul(x) if isinstance(w, QuantizedWeight) else x @ w


def quantize_weights(model: nn.Module, group_size: int | None = None) -> nn.Module:
    """Replace the model's dense projections by int8 ones, in place; returns the model.

    `group_size` None: one scale per output feature; else one per `group_size`
    consecutive input features of each output feature.
    """
    targets = [
        (module, name)
        for module in model.modules()
        for name in PROJECTIONS
        if isinstance(w := getattr(module, name, None), nn.Parameter) and w.dim() == 2
    ]  # 2-D only: the MoE's stacked experts (`w1`, `w2`, `w3`, 3-D) stay float
    for module, name in targets:
        weight = getattr(module, name)
        with torch.no_grad():
            quantized = QuantizedWeight(weight.detach(), group_size)
        delattr(module, name)  # a Parameter slot cannot hold a module
        setattr(module, name, quantized)
    return model
