"""Where a swapped component changes what a model computes: the first step and layer.

Run the engine twice on the same tiny model and prompts, once with the reference
components and once with another implementation of one of them (`Components`), record
every layer's output at every forward step, and compare. The first step and layer
whose hidden states differ is where the component went wrong; if every hidden state
agrees but the tokens differ, the difference is after the model (sampling).

    step 0 is the prefill; step s > 0 is the s-th decode step
    layer i is the output of transformer block i ([batch, T, dim])

The tiny models are random, from a fixed seed, with a sliding window shorter than
the generated sequence so that masks and rolling caches are exercised past the wrap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import torch
from torch import Tensor

from reference.components import Components
from reference.engine import generate
from reference.kv_layout import CacheKind
from reference.loading import ModelArgs
from reference.model import Transformer

__all__ = ["Trace", "first_divergence", "tiny_model"]

# Of a layer's largest value, what two correct components may differ by anywhere in it
# (float32's epsilon is 1.2e-7; reordered sums were seen at 1e-6).
SCALE_TOL = 1e-5


def tiny_model(
    *, moe: bool = False, window: int | None = 8, seed: int = 0, device: str = "cpu"
) -> Transformer:
    """A small random Mistral (or Mixtral, 8 experts top-2) with a fixed seed."""
    args = ModelArgs(
        dim=64,
        hidden_dim=128,
        n_layers=3,
        n_heads=4,
        n_kv_heads=2,
        head_dim=16,
        vocab_size=97,
        norm_eps=1e-5,
        rope_theta=10000.0,
        sliding_window=window,
        n_experts=8 if moe else 0,
        experts_per_tok=2,
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        model = Transformer(args)
    params = {
        name: torch.randn(p.shape, generator=generator) * (0.5 if p.ndim > 1 else 0.1)
        + (1.0 if p.ndim == 1 else 0.0)
        for name, p in model.named_parameters()
    }
    model.load_state_dict(params, strict=True, assign=True)
    return model.to(device).requires_grad_(False).eval()


class Pool(TypedDict, total=False):
    """The paged cache's sizes, as `generate` takes them."""

    block_size: int
    num_blocks: int
    token_budget: int


@dataclass
class Trace:
    tokens: list[list[int]]
    steps: list[list[Tensor]] = field(default_factory=list)  # [step][layer] -> [batch, T, dim]
    inputs: list[Tensor] = field(default_factory=list)  # [step] -> token ids fed [batch, T]


def trace(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    components: Components,
    cache: CacheKind = "auto",
    sampling: Mapping[str, float] | None = None,
    pool: Pool | None = None,
) -> Trace:
    """Generate (greedily unless `sampling` says otherwise) and keep every block's output."""
    out = Trace(tokens=[])

    def start_step(_module: object, args: tuple[Tensor, ...]) -> None:
        out.steps.append([])
        out.inputs.append(args[0].detach().cpu())

    hooks = [model.register_forward_pre_hook(start_step)]
    for block in model.layers:
        hooks.append(
            block.register_forward_hook(
                lambda _m, _i, h: out.steps[-1].append(h.detach().float().cpu())
            )
        )
    try:
        params = dict(sampling or {})
        out.tokens = generate(
            model,
            prompts,
            max_new_tokens,
            params.pop("temperature", 0.0),
            top_k=int(params.pop("top_k", 0)),
            top_p=params.pop("top_p", 1.0),
            min_p=params.pop("min_p", 0.0),
            seed=0,
            components=components,
            cache=cache,
            stop_ids=(),
            **(pool or {}),
        )
    finally:
        for hook in hooks:
            hook.remove()
    return out


def first_divergence(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    components: Components,
    *,
    cache: CacheKind = "auto",
    atol: float = 1e-4,
    rtol: float = 1e-4,
    sampling: Mapping[str, float] | None = None,
    pool: Pool | None = None,
) -> str | None:
    """None when `components` reproduces the reference engine; else where it first differs.

    `sampling` (temperature, top_k, top_p, min_p) must leave one candidate token per step
    (e.g. top_k=1) for the comparison to mean anything: two correct samplers may draw
    differently from the same seed. `pool` sizes the paged cache (`block_size`,
    `num_blocks`, `token_budget`), e.g. small enough that its scheduler must preempt.
    """
    expected = trace(model, prompts, max_new_tokens, Components(), cache, sampling, pool)
    got = trace(model, prompts, max_new_tokens, components, cache, sampling, pool)
    for step, (want_layers, got_layers) in enumerate(zip(expected.steps, got.steps, strict=False)):
        fed, want_fed = got.inputs[step], expected.inputs[step]
        if fed.shape != want_fed.shape or not torch.equal(fed, want_fed):
            # Every layer agreed up to here: what changed is the token chosen from the logits.
            return f"{_step(step)}: the engine fed different tokens (the token chosen after the previous step differs){_tokens(expected, got)}"
        for layer, (want, have) in enumerate(zip(want_layers, got_layers, strict=False)):
            if want.shape != have.shape:
                return f"{_step(step)}, layer {layer}: hidden state has shape {tuple(have.shape)}, expected {tuple(want.shape)}"
            # Float32 sums taken in another order (a ring buffer's keys, another CPU's
            # kernels) differ by a few ulps of their largest terms, which for hidden states
            # in the hundreds is more than `atol`: the tolerance scales with the layer.
            scale = SCALE_TOL * want.abs().max().item()
            if not torch.allclose(have, want, atol=atol + scale, rtol=rtol):
                diff = (have - want).abs().max().item()
                return f"{_step(step)}, layer {layer}: hidden states differ (max |diff| {diff:.3g}){_tokens(expected, got)}"
    if len(got.steps) != len(expected.steps):
        return f"the engine ran {len(got.steps)} forward steps, the reference {len(expected.steps)}"
    if got.tokens != expected.tokens:
        return f"every hidden state matches, but the tokens differ after the model{_tokens(expected, got)}"
    return None


def _step(step: int) -> str:
    return "step 0 (prefill)" if step == 0 else f"step {step} (decode)"


def _tokens(expected: Trace, got: Trace) -> str:
    for r, (want, have) in enumerate(zip(expected.tokens, got.tokens, strict=False)):
        for i, (a, b) in enumerate(zip(want, have, strict=False)):
            if a != b:
                return f"; prompt {r}'s new token {i} is {b}, the reference engine made {a}"
        if len(want) != len(have):
            return f"; prompt {r} got {len(have)} new tokens, the reference engine made {len(want)}"
    return ""
