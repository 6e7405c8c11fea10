"""The reference engine with its second-wave parts: int8 weights, flash attention.

Int8 weights, on the `larger` config of bench_engine (random weights, transformers'
initialisation), four prompts of 16 tokens, 64 greedy tokens each:

- speed: batch-1 greedy generation, the int8 model against the float one, timed side
  by side in interleaved rounds (`grader.judge.timing.compare`);
- size: bytes of the dense projections (int8 codes plus float32 scales, against float32);
- what int8 costs: the prefill logits' relative error, and how many greedy tokens each
  prompt keeps before the first that differs from the float model's.

Random models put many tokens within a hair of each other, so greedy tokens part
sooner than on a trained model; the logits' error is the figure that transfers.

Flash attention: the `tiny` config, batch 1, with the reference tiled attention
(`reference.flash_attention.flash_attention_masked`) in place of SDPA, greedy tokens
checked equal, then timed side by side.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from benchmarks.bench_engine import LARGER, PROMPT_LEN, TINY, _models, _prompt, _sync
from benchmarks.common import Section, fmt_ratio, single_threaded
from grader.judge.timing import compare
from reference.components import Components
from reference.engine import generate
from reference.flash_attention import flash_attention_masked
from reference.model import Transformer
from reference.quantized import PROJECTIONS, QuantizedWeight, quantize_weights

NEW_TOKENS = 64
N_PROMPTS = 4


def projection_bytes(model: nn.Module) -> int:
    total = 0
    for module in model.modules():
        for name in PROJECTIONS:
            w = getattr(module, name, None)
            if isinstance(w, QuantizedWeight):
                total += sum(t.numel() * t.element_size() for t in w.buffers())
            elif isinstance(w, torch.Tensor) and w.dim() == 2:
                total += w.numel() * w.element_size()
    return total


def _first_difference(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), len(a))


def _generator(
    model: Transformer, prompt: list[int], components: Components | None = None
) -> Callable[[], list[int]]:
    def call() -> list[int]:
        return generate(model, [prompt], 32, stop_ids=(), components=components)[0]

    return call


def run(device: str) -> Section:
    return single_threaded(device, _run)


def _run(device: str) -> Section:
    section = Section(
        name="engine_variants",
        title="Reference engine with int8 weights and with flash attention",
        headers=["case", "variant", "reference engine", "ratio"],
    )
    _int8(section, device)
    _flash(section, device)
    return section


def _int8(section: Section, device: str) -> None:
    _, model = _models(LARGER, device)
    int8 = quantize_weights(copy.deepcopy(model))
    assert isinstance(int8, Transformer)
    prompts = [_prompt(PROMPT_LEN, LARGER["vocab_size"], seed=s) for s in range(N_PROMPTS)]

    result = compare(
        _generator(model, prompts[0]),
        _generator(int8, prompts[0]),
        sync=_sync(device),
        rounds=7,
        min_rounds=3,
        max_s=30.0,
    )
    section.add(
        f"larger, batch 1, {PROMPT_LEN} + 32 tokens, eager",
        "int8",
        f"{32 / result.b_s:.0f} tok/s (float32: {32 / result.a_s:.0f} tok/s)",
        f"{fmt_ratio(result.ratio)} (float time / int8 time)",
    )
    small, big = projection_bytes(int8), projection_bytes(model)
    section.add(
        "dense projections (wqkv, wo, w13, w2, LM head)",
        "int8",
        f"{small / 2**20:.1f} MiB (float32: {big / 2**20:.1f} MiB)",
        f"{big / small:.2f}x smaller",
    )
    with torch.inference_mode():
        tokens = torch.tensor(prompts, device=device)
        want, got = model(tokens), int8(tokens)
    error = ((got - want).norm() / want.norm()).item()
    section.add("prefill logits, relative error (L2) against float32", "int8", f"{error:.2%}", "")
    float_out = generate(model, prompts, NEW_TOKENS, stop_ids=())
    int8_out = generate(int8, prompts, NEW_TOKENS, stop_ids=())
    kept = [_first_difference(a, b) for a, b in zip(float_out, int8_out, strict=True)]
    section.add(
        f"greedy tokens before the first difference from float32 (of {NEW_TOKENS}, per prompt)",
        "int8",
        ", ".join(map(str, kept)),
        "",
    )
    section.notes += [
        "int8: symmetric, one scale per output feature, every dense projection "
        "(`reference.quantized.quantize_weights`); the embedding and norms stay float32. "
        "The product dequantizes 256 output features at a time (`reference.quant."
        "quant_matmul`), applying each row's scale after the product.",
        "larger: hidden 1024, intermediate 2048, 8 layers, 16 heads, 4 KV heads, vocab "
        "1000, window 64; random weights (transformers' initialisation), greedy, no stop token.",
    ]


def _flash(section: Section, device: str) -> None:
    _, model = _models(TINY, device)
    prompt = _prompt(PROMPT_LEN, TINY["vocab_size"], seed=1)
    tiled = Components(attention=flash_attention_masked)
    sdpa_run, flash_run = _generator(model, prompt), _generator(model, prompt, tiled)
    if sdpa_run() != flash_run():
        raise AssertionError("the engine with flash attention generates other tokens")
    result = compare(sdpa_run, flash_run, sync=_sync(device), rounds=7, min_rounds=3, max_s=30.0)
    section.add(
        f"tiny, batch 1, {PROMPT_LEN} + 32 tokens, eager (same greedy tokens)",
        "flash attention",
        f"{32 / result.b_s:.0f} tok/s (SDPA: {32 / result.a_s:.0f} tok/s)",
        f"{fmt_ratio(result.ratio)} (SDPA time / flash time)",
    )
    section.notes.append(
        "flash attention: the reference's tiles are Python-level loops of small kernels, "
        "a teaching implementation; SDPA's fused CPU kernel is the engine's default."
    )
