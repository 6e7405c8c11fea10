"""The reference engine against transformers' `generate`, and batching against one by one.

Three comparisons, each timed side by side in interleaved ABBA rounds
(`grader/timing.compare`) on identical weights, greedy decoding, no stop token:

1. tiny Mistral (hidden 256, 4 layers, 8 heads, 2 KV heads, vocab 1000, window 64),
   batch 1, 16-token prompt, 128 new tokens: per-token overhead decides this one,
   since a step's matmuls are small;
2. a larger Mistral (hidden 1024, 8 layers, 16 heads, 4 KV heads): matmuls decide;
3. 8 requests with mixed prompt lengths and token budgets through one `Engine` with
   4 lanes (requests join as others finish) against running them one at a time,
   with the rolling buffer (the default for this model) and with the paged cache.

Cases 1 and 2 run twice: the eager engine, and `generate(..., compile=True)`, whose
decode steps run as one `torch.compile` graph (its first call compiles; the time
is in the row's name, and the timed calls reuse the compiled graph).

Before timing, each pair's tokens are checked equal: a speed-up over a different
answer would mean nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.common import Section, fmt_ratio, single_threaded
from grader.judge.timing import compare
from reference.engine import Engine, generate
from reference.kv_layout import CacheKind
from reference.model import Transformer, from_state_dict

TINY: dict[str, Any] = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "sliding_window": 64,
}
LARGER: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 2048,
    "num_hidden_layers": 8,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "vocab_size": 1000,
    "sliding_window": 64,
}
PROMPT_LEN = 16
# (prompt length, new tokens) of the batching case: requests of every shape.
REQUESTS = [(4, 8), (9, 40), (17, 16), (30, 32), (6, 24), (12, 12), (24, 36), (40, 20)]
LANES = 4


def _models(config: dict[str, Any], device: str) -> tuple[Any, Transformer]:
    """A randomly initialised transformers model and the reference model on its weights."""
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    hf_config = MistralConfig(**config, eos_token_id=None, pad_token_id=0)
    hf: Any = MistralForCausalLM(hf_config)
    hf = hf.to(device).eval()
    ours = from_state_dict(hf_config.to_dict(), hf.state_dict(), device=device)
    return hf, ours


def _prompt(n: int, vocab: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    ids: list[int] = torch.randint(0, vocab, (n,), generator=generator).tolist()
    return ids


def _hf_generate(hf: Any, prompt: list[int], new: int) -> Callable[[], list[int]]:
    ids = torch.tensor([prompt], device=hf.device)

    def call() -> list[int]:
        with torch.inference_mode():
            out = hf.generate(
                ids, max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0
            )
        tokens: list[int] = out[0, len(prompt) :].tolist()
        return tokens

    return call


def _ours(
    model: Transformer, prompt: list[int], new: int, compile: bool = False
) -> Callable[[], list[int]]:
    def call() -> list[int]:
        return generate(model, [prompt], new, stop_ids=(), compile=compile)[0]

    return call


def _versus_transformers(
    section: Section, name: str, config: dict[str, Any], new: int, device: str
) -> None:
    """Two rows: the eager engine, then `compile=True`, each against transformers."""
    hf, ours = _models(config, device)
    prompt = _prompt(PROMPT_LEN, config["vocab_size"], seed=1)
    baseline = _hf_generate(hf, prompt, new)
    want = baseline()
    for compiled in (False, True):
        engine = _ours(ours, prompt, new, compile=compiled)
        start = time.perf_counter()
        if engine() != want:
            raise AssertionError(
                f"{name}: the reference and transformers generate different tokens"
            )
        first_s = time.perf_counter() - start  # with compile=True: tracing and compiling
        result = compare(baseline, engine, sync=_sync(device), rounds=9, min_rounds=3, max_s=30.0)
        mode = f"compile=True (first call {first_s:.0f} s)" if compiled else "eager"
        section.add(
            f"{name}, {mode}",
            f"{new / result.b_s:.0f} tok/s",
            f"{new / result.a_s:.0f} tok/s (transformers)",
            fmt_ratio(result.ratio),
        )


def _batching(section: Section, device: str) -> None:
    _, model = _models(TINY, device)
    prompts = [_prompt(n, TINY["vocab_size"], seed=i) for i, (n, _) in enumerate(REQUESTS)]
    budgets = [new for _, new in REQUESTS]
    longest = max(n + new for n, new in REQUESTS)

    def one_by_one() -> list[list[int]]:
        pairs = zip(prompts, budgets, strict=True)
        return [generate(model, [p], n, stop_ids=())[0] for p, n in pairs]

    want = one_by_one()
    for cache in ("rolling", "paged"):

        def batched(cache: CacheKind = cache) -> list[list[int]]:
            engine = Engine(model, max_batch=LANES, max_seq_len=longest, cache=cache)
            pairs = zip(prompts, budgets, strict=True)
            ids = [engine.add_request(p, n, stop_ids=()) for p, n in pairs]
            engine.run()
            return [engine.output(i) for i in ids]

        if batched() != want:
            raise AssertionError(f"continuous batching ({cache}) changed the greedy tokens")
        result = compare(
            one_by_one, batched, sync=_sync(device), rounds=9, min_rounds=3, max_s=30.0
        )
        total = sum(budgets)
        section.add(
            f"8 requests (prompts 4-40, 8-40 new tokens), {LANES} lanes, {cache} cache, tiny",
            f"{total / result.b_s:.0f} tok/s (continuous batching)",
            f"{total / result.a_s:.0f} tok/s (one by one)",
            fmt_ratio(result.ratio),
        )


def _sync(device: str) -> Callable[[], None]:
    if device == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def run(device: str) -> Section:
    return single_threaded(device, _run)


def _run(device: str) -> Section:
    section = Section(
        name="engine",
        title="Reference engine: greedy generation against transformers, batching against one by one",
        headers=["case", "reference", "baseline", "speed-up"],
    )
    _versus_transformers(
        section, f"tiny, batch 1, {PROMPT_LEN} + 128 tokens", TINY, new=128, device=device
    )
    _versus_transformers(
        section, f"larger, batch 1, {PROMPT_LEN} + 32 tokens", LARGER, new=32, device=device
    )
    _batching(section, device)
    section.notes += [
        "Speed-up: baseline time over reference time for the same tokens, median of paired "
        "interleaved rounds. Float32, random weights, greedy, no stop token"
        + (", 1 torch thread." if device == "cpu" else "."),
        "tiny: hidden 256, intermediate 512, 4 layers, 8 heads, 2 KV heads, vocab 1000, "
        "window 64 (rolling KV cache). larger: hidden 1024, intermediate 2048, 8 layers, "
        "16 heads, 4 KV heads, vocab 1000, window 64.",
        "compile=True: the engine's decode steps run through `torch.compile` (inductor, "
        "default mode, C++ graph wrapper on CPU), greedy tokens taken inside the graph; "
        "the prompt's prefill stays eager. transformers' `generate` runs eager, its default.",
        "Batching: one by one is `generate` per request (prefill, then decode). A rolling "
        "buffer feeds a request that joins a running batch one prompt token per step; a "
        "paged cache prefills it in one step beside the others' decoding.",
    ]
    return section
