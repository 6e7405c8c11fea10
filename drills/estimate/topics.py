"""The topics: one generator each, seeded, so the same (topic, seed) is the same question.

A generator draws its parameters (model, accelerator, dtype, lengths, prices...) from a
`random.Random` seeded with the topic and the seed, computes the answer with
`formulas`, and writes the derivation with every constant named.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drills.estimate import formulas as f
from drills.estimate.names import TOPIC_NAMES
from drills.estimate.specs import (
    ACCELERATORS,
    DTYPE_BYTES,
    DTYPE_WORDS,
    MODELS,
    Accelerator,
    Model,
)
from drills.estimate.units import Kind, show

Params = dict[str, str | int | float]
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Question:
    topic: str
    seed: int
    text: str
    kind: Kind
    expected: float
    derivation: tuple[str, ...]
    params: Params = field(default_factory=dict)
    percent: bool = False  # a fraction, worded as a percentage

    def expected_text(self) -> str:
        return show(self.kind, self.expected, percent=self.percent)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "seed": self.seed,
            "question": self.text,
            "kind": self.kind.value,
            "expected": self.expected,
            "expected_text": self.expected_text(),
            "derivation": list(self.derivation),
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class Draft:
    """What a generator returns; `generate` adds the topic and the seed."""

    text: str
    kind: Kind
    expected: float
    derivation: list[str]
    params: Params
    percent: bool = False


# --- wording helpers ---------------------------------------------------------------------


def _b(x: float) -> str:
    return show(Kind.BYTES, x)


def _t(x: float) -> str:
    return show(Kind.TIME, x)


def _bw(x: float) -> str:
    return show(Kind.BANDWIDTH, x)


def _rate(x: float) -> str:
    return show(Kind.RATE, x)


def _n(x: float) -> str:
    return show(Kind.COUNT, x)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _flops(x: float) -> str:
    return f"{x:.3g} FLOPs"


def _flop_rate(x: float) -> str:
    return f"{x / 1e12:,.4g} TFLOP/s"


def _pct(x: float) -> str:
    return f"{x * 100:.3g}%"


def _pick_model(rng: random.Random, keys: tuple[str, ...] | None = None) -> Model:
    return MODELS[rng.choice(keys or tuple(MODELS))]


def _embedding_words(m: Model) -> str:
    return (
        "input embedding and output head share one matrix"
        if m.tied_embeddings
        else "input embedding and output head are separate matrices"
    )


def _param_lines(m: Model, experts: int) -> list[str]:
    """The parameter count of `m` with `experts` MLPs a layer, line by line."""
    d, q, kv = m.d_model, m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    attn, mlp, router = f.attention_params(m), f.expert_params(m), f.router_params(m)
    layer = f.layer_params(m, experts)
    lines = [
        f"Attention per layer: Q {d:,} x {q:,} ({m.n_heads} heads x {m.head_dim}) + K and V "
        f"2 x {d:,} x {kv:,} ({m.n_kv_heads} KV heads x {m.head_dim}) + O {q:,} x {d:,} "
        f"= {attn:,}",
        f"{'One expert' if m.is_moe else 'MLP per layer'}: 3 matrices (SwiGLU gate, up, "
        f"down) x {d:,} x {m.ffn_dim:,} = {mlp:,}",
    ]
    if m.is_moe:
        which = "all" if experts == m.n_experts else f"the top-{experts} of"
        lines.append(
            f"Experts per layer: {which} {m.n_experts} experts: {experts} x {mlp:,} "
            f"= {experts * mlp:,}; router {d:,} x {m.n_experts} = {router:,}"
        )
    lines += [
        f"Norms per layer: 2 RMSNorm weights of {d:,} = {2 * d:,}",
        f"Per layer: {layer:,}; x {m.n_layers} layers = {m.n_layers * layer:,}",
    ]
    emb = m.vocab * d
    copies = 1 if m.tied_embeddings else 2
    lines.append(
        f"Embeddings: vocabulary {m.vocab:,} x {d:,} = {emb:,}, x {copies} ({_embedding_words(m)})"
        f" = {copies * emb:,}; final norm {d:,}"
    )
    total = m.n_layers * layer + f.embedding_params(m)
    lines.append(f"Total: {_n(total)} parameters")
    return lines


def _matmul_sum(m: Model, experts: int) -> str:
    """`f.matmul_params(m, experts)` written out as the sum it is, each part named."""
    parts = [f"attention {f.attention_params(m):,}"]
    if m.is_moe:
        parts += [
            f"top-{experts} of {m.n_experts} experts {experts} x {f.expert_params(m):,}",
            f"router {f.router_params(m):,}",
        ]
    else:
        parts.append(f"MLP {experts * f.expert_params(m):,}")
    return (
        f"{m.n_layers} layers x ({' + '.join(parts)}) + output head {m.vocab:,} x "
        f"{m.d_model:,} = {_n(f.matmul_params(m, experts))}"
    )


def _kv_lines(m: Model, kv_dtype: str) -> list[str]:
    per_token = f.kv_bytes_per_token(m, DTYPE_BYTES[kv_dtype])
    return [
        f"KV cache per token: 2 (K and V) x {m.n_layers} layers x {m.n_kv_heads} KV heads x "
        f"{m.head_dim} head dim x {DTYPE_WORDS[kv_dtype]} = {_b(per_token)}"
    ]


def _cached_line(m: Model, seq: int) -> str:
    cached = f.cached_tokens(m, seq)
    if m.window:
        return (
            f"{m.name}'s sliding window of {m.window:,} tokens caps what a sequence keeps "
            f"(a rolling buffer overwrites the oldest): min({seq:,}, {m.window:,}) = "
            f"{cached:,} tokens"
        )
    return f"No sliding window: all {seq:,} tokens stay in the cache"


def _peak(acc: Accelerator, dtype: str) -> float:
    """Dense FLOP/s for matmuls in `dtype` (fp8 where the chip has it, else bf16)."""
    if dtype == "fp8" and acc.fp8_flops is not None:
        return acc.fp8_flops
    return acc.bf16_flops


def _compute_dtype(acc: Accelerator, weights: str) -> str:
    """fp8 weights multiply in fp8 where the chip can; bf16 and 4-bit weights in bf16."""
    return "fp8" if weights == "fp8" and acc.fp8_flops is not None else "bf16"


def _peak_words(acc: Accelerator, dtype: str) -> str:
    if acc.key == "laptop-cpu":
        return f"{_flop_rate(acc.bf16_flops)} ({acc.note})"
    return f"{_flop_rate(_peak(acc, dtype))} dense {dtype} ({acc.name} datasheet, no sparsity)"


def _weight_dtypes(acc: Accelerator) -> tuple[str, ...]:
    if acc.key == "laptop-cpu":
        return ("int4",)
    return ("bf16", "fp8", "int4") if acc.fp8_flops is not None else ("bf16", "int4")


# --- the topics --------------------------------------------------------------------------


def weights(rng: random.Random) -> Draft:
    m = _pick_model(rng)
    total = f.total_params(m)
    if rng.random() < 0.5:
        return Draft(
            text=f"How many parameters does {m.summary()} have? Weights only, no biases; "
            f"its {_embedding_words(m)}.",
            kind=Kind.COUNT,
            expected=total,
            derivation=_param_lines(m, m.n_experts),
            params={"model": m.key, "ask": "parameters"},
        )
    dtype = rng.choice(("bf16", "fp8", "int4"))
    size = f.weight_bytes(total, DTYPE_BYTES[dtype])
    return Draft(
        text=f"How many bytes do the weights of {m.summary()} take in {dtype}? Its "
        f"{_embedding_words(m)}.",
        kind=Kind.BYTES,
        expected=size,
        derivation=[
            *_param_lines(m, m.n_experts),
            f"Bytes: {total:,} x {DTYPE_WORDS[dtype]} = {_b(size)}",
        ],
        params={"model": m.key, "ask": "weight bytes", "dtype": dtype},
    )


def kv_cache(rng: random.Random) -> Draft:
    m = _pick_model(rng)
    dtype = rng.choice(("bf16", "bf16", "fp8"))
    per_token = f.kv_bytes_per_token(m, DTYPE_BYTES[dtype])
    lines = _kv_lines(m, dtype)
    variant = rng.choice(("token", "sequence", "batch"))
    if variant == "token":
        return Draft(
            text=f"{m.summary()}, KV cache in {dtype}: how many bytes of KV cache does one "
            "token take, over all layers?",
            kind=Kind.BYTES,
            expected=per_token,
            derivation=lines,
            params={"model": m.key, "kv_dtype": dtype, "ask": "per token"},
        )
    lengths = [s for s in (2048, 4096, 8192, 16384, 32768, 65536, 131072) if s <= m.context]
    seq = rng.choice(lengths)
    per_seq = f.kv_bytes_per_sequence(m, seq, DTYPE_BYTES[dtype])
    cached = f.cached_tokens(m, seq)
    lines += [
        _cached_line(m, seq),
        f"Per sequence: {cached:,} tokens x {_b(per_token)} = {_b(per_seq)}",
    ]
    if variant == "sequence":
        return Draft(
            text=f"{m.summary()}, KV cache in {dtype}: how many bytes of KV cache does one "
            f"sequence of {seq:,} tokens (prompt and output together) hold?",
            kind=Kind.BYTES,
            expected=per_seq,
            derivation=lines,
            params={"model": m.key, "kv_dtype": dtype, "seq_len": seq, "ask": "per sequence"},
        )
    batch = rng.choice((8, 16, 32, 64, 128))
    total = batch * per_seq
    lines.append(f"Batch: {batch} sequences x {_b(per_seq)} = {_b(total)}")
    return Draft(
        text=f"{m.summary()}, KV cache in {dtype}: how many bytes of KV cache does a batch of "
        f"{batch} sequences of {seq:,} tokens each hold?",
        kind=Kind.BYTES,
        expected=total,
        derivation=lines,
        params={"model": m.key, "kv_dtype": dtype, "seq_len": seq, "batch": batch},
    )


ENGINE_MEMORY_SHARE = 0.9  # like vLLM's default gpu_memory_utilization


def batch(rng: random.Random) -> Draft:
    gpus = ("h100", "h200", "a100", "l4")
    while True:
        acc = ACCELERATORS[rng.choice(gpus)]
        m = _pick_model(rng)
        n = rng.choice((1, 1, 2, 4, 8))
        wdtype = rng.choice(_weight_dtypes(acc))
        kv_dtype = "fp8" if wdtype == "fp8" else "bf16"
        seq = rng.choice([s for s in (2048, 4096, 8192, 16384, 32768) if s <= m.context])
        budget = n * acc.memory * ENGINE_MEMORY_SHARE
        params = f.total_params(m)
        weights_b = f.weight_bytes(params, DTYPE_BYTES[wdtype])
        per_seq = f.kv_bytes_per_sequence(m, seq, DTYPE_BYTES[kv_dtype])
        fits = f.max_batch(budget, weights_b, per_seq)
        if weights_b <= 0.8 * budget and 4 <= fits <= 5000:
            break
    per_token = f.kv_bytes_per_token(m, DTYPE_BYTES[kv_dtype])
    left = budget - weights_b
    where = f"{n} x {acc.name}" if n > 1 else f"one {acc.name}"
    return Draft(
        text=f"You serve {m.summary()} on {where} ({_b(acc.memory)} of {acc.memory_kind} "
        f"each), weights in {wdtype}, KV cache in {kv_dtype}. The engine may use "
        f"{ENGINE_MEMORY_SHARE:.0%} of GPU memory; the rest is for activations, CUDA graphs "
        f"and fragmentation. Every sequence may reach {seq:,} tokens. What is the largest "
        "batch of sequences whose KV caches fit at full length?",
        kind=Kind.COUNT,
        expected=fits,
        derivation=[
            f"Memory the engine may use: {n} x {_b(acc.memory)} x {ENGINE_MEMORY_SHARE} = "
            f"{_b(budget)}",
            f"Weights: {_n(params)} parameters x {DTYPE_WORDS[wdtype]} = {_b(weights_b)}"
            + (f" (sharded across the {n} GPUs; the sum is the same)" if n > 1 else ""),
            f"Left for the KV cache: {_b(budget)} - {_b(weights_b)} = {_b(left)}",
            *_kv_lines(m, kv_dtype),
            _cached_line(m, seq),
            f"Per sequence: {f.cached_tokens(m, seq):,} tokens x {_b(per_token)} = {_b(per_seq)}",
            f"Batch: floor({_b(left)} / {_b(per_seq)}) = {fits:,} sequences",
            "This is the worst case, every sequence at full length; a paged cache allocates "
            "by actual length and usually fits more.",
        ],
        params={
            "model": m.key,
            "accelerator": acc.key,
            "gpus": n,
            "weights_dtype": wdtype,
            "kv_dtype": kv_dtype,
            "seq_len": seq,
        },
    )


def decode(rng: random.Random) -> Draft:
    if rng.random() < 0.3:
        return _decode_bandwidth(rng)
    while True:
        acc = ACCELERATORS[rng.choice(tuple(ACCELERATORS))]
        m = _pick_model(rng)
        wdtype = rng.choice(_weight_dtypes(acc))
        n_batch = 1 if m.is_moe or acc.key == "laptop-cpu" else rng.choice((1, 1, 8, 32))
        ctx = rng.choice([c for c in (1024, 2048, 4096, 8192) if c <= m.context])
        experts = m.top_k if m.is_moe else m.n_experts
        read = f.decode_read_params(m, experts)
        weights_read = f.weight_bytes(read, DTYPE_BYTES[wdtype])
        per_seq = f.kv_bytes_per_sequence(m, ctx, DTYPE_BYTES["bf16"])
        resident = f.weight_bytes(f.total_params(m), DTYPE_BYTES[wdtype]) + n_batch * per_seq
        if resident <= 0.9 * acc.memory:
            break
    kv_read = n_batch * per_seq
    step = weights_read + kv_read
    rate = f.decode_tokens_per_s(acc.bandwidth, step, n_batch)
    lines = []
    if m.is_moe:
        lines.append(
            f"At batch 1 a step reads only the routed experts: {_n(read)} parameters "
            f"(every layer's attention, norms, router and top-{m.top_k} of {m.n_experts} "
            "experts, the final norm and the output head; the input embedding is a one-row "
            "lookup)"
        )
    else:
        lines.append(
            f"Each step reads every weight once: {_n(read)} parameters (all but the input "
            "embedding, a one-row lookup per token)"
        )
    lines += [
        f"Weight bytes per step: {read:,} x {DTYPE_WORDS[wdtype]} = {_b(weights_read)}",
        *_kv_lines(m, "bf16"),
        f"KV bytes per step: {_plural(n_batch, 'sequence')} x {f.cached_tokens(m, ctx):,} cached tokens "
        f"x {_b(f.kv_bytes_per_token(m, 2))} = {_b(kv_read)}",
        f"Bytes per step: {_b(weights_read)} + {_b(kv_read)} = {_b(step)}",
        f"Steps per second: {_bw(acc.bandwidth)} ({acc.memory_kind} of the {acc.name}) / "
        f"{_b(step)} = {acc.bandwidth / step:,.4g}; each yields {_plural(n_batch, 'token')}: "
        f"{_rate(rate)}",
        "A real engine reaches a fraction of this bound (kernel efficiency, scheduling).",
    ]
    return Draft(
        text=f"{m.summary()} decodes on one {acc.name} ({_bw(acc.bandwidth)} "
        f"{acc.memory_kind}), weights in {wdtype}, KV cache in bf16, batch {n_batch}, each "
        f"sequence {ctx:,} tokens into its context. What upper bound does memory bandwidth "
        "put on decode throughput, in tokens/s for the whole batch?",
        kind=Kind.RATE,
        expected=rate,
        derivation=lines,
        params={
            "model": m.key,
            "accelerator": acc.key,
            "weights_dtype": wdtype,
            "batch": n_batch,
            "context": ctx,
        },
    )


def _decode_bandwidth(rng: random.Random) -> Draft:
    m = _pick_model(rng, ("mistral-7b", "llama-3-8b", "llama-3-70b", "mistral-large-2"))
    wdtype = rng.choice(("bf16", "fp8", "int4"))
    target = rng.choice((20, 30, 50, 100, 200))
    read = f.decode_read_params(m, m.n_experts)
    per_token = f.weight_bytes(read, DTYPE_BYTES[wdtype])
    need = per_token * target
    return Draft(
        text=f"What memory bandwidth does it take to decode {m.summary()}, weights in "
        f"{wdtype}, at {target} tokens/s for one user (batch 1, short context: leave the KV "
        "cache out)?",
        kind=Kind.BANDWIDTH,
        expected=need,
        derivation=[
            f"Each token reads every weight once: {_n(read)} parameters (all but the input "
            "embedding, a one-row lookup per token)",
            f"Bytes per token: {read:,} x {DTYPE_WORDS[wdtype]} = {_b(per_token)}",
            f"Bandwidth: {_b(per_token)} x {target} tokens/s = {_bw(need)}",
            f"For scale: {_bw(ACCELERATORS['h100'].bandwidth)} on an H100 SXM, "
            f"{_bw(ACCELERATORS['l4'].bandwidth)} on an L4, "
            f"{_bw(ACCELERATORS['laptop-cpu'].bandwidth)} on the laptop",
        ],
        params={"model": m.key, "weights_dtype": wdtype, "target_tok_s": target},
    )


def _gpus_to_fit(acc: Accelerator, weights_b: float) -> int | None:
    for n in (1, 2, 4, 8):
        if weights_b <= 0.8 * n * acc.memory:
            return n
    return None


def prefill(rng: random.Random) -> Draft:
    while True:
        acc = ACCELERATORS[rng.choice(("h100", "h200", "a100", "l4"))]
        m = _pick_model(rng)
        wdtype = rng.choice(tuple(d for d in _weight_dtypes(acc) if d != "int4"))
        n = _gpus_to_fit(acc, f.weight_bytes(f.total_params(m), DTYPE_BYTES[wdtype]))
        if n is not None:
            break
    dtype = _compute_dtype(acc, wdtype)
    prompts = rng.choice((1, 4, 16))
    length = rng.choice([p for p in (512, 1024, 2048, 4096, 8192) if p <= m.context])
    util = rng.choice((0.4, 0.5, 0.6))
    tokens = prompts * length
    experts = m.top_k if m.is_moe else 1
    params = f.matmul_params(m, experts)
    flops = f.matmul_flops(params, tokens)
    peak = n * _peak(acc, dtype)
    seconds = f.compute_seconds(flops, peak, util)
    attn = f.attention_flops(m, length, prompts)
    where = f"{n} x {acc.name} (tensor parallel)" if n > 1 else f"one {acc.name}"
    left_out = (
        f"Left out: attention's own FLOPs (QK^T and AV, {_flops(attn)}, {_pct(attn / flops)} more)"
    )
    if n > 1:
        left_out += f" and the all-reduces between the {n} GPUs"
    return Draft(
        text=f"{m.summary()} runs on {where}, weights in {wdtype}, matmuls at {util:.0%} of "
        f"the dense {dtype} peak. How long does prefill of {_plural(prompts, 'prompt')} of "
        f"{length:,} tokens take, bound by compute?",
        kind=Kind.TIME,
        expected=seconds,
        derivation=[
            f"Tokens: {prompts} x {length:,} = {tokens:,}",
            f"Matmul weights a token goes through: {_matmul_sum(m, experts)}; the norms and "
            "the input embedding (a lookup) are not matmuls",
            f"FLOPs: 2 (a multiply and an add per weight per token) x {params:,} x {tokens:,} "
            f"= {_flops(flops)}",
            f"Compute: {n} x {_peak_words(acc, dtype)} x {util} = {_flop_rate(peak * util)}",
            f"Time: {_flops(flops)} / {_flop_rate(peak * util)} = {_t(seconds)}",
            left_out + ".",
        ],
        params={
            "model": m.key,
            "accelerator": acc.key,
            "gpus": n,
            "weights_dtype": wdtype,
            "prompts": prompts,
            "prompt_len": length,
            "utilisation": util,
        },
    )


def intensity(rng: random.Random) -> Draft:
    acc = ACCELERATORS[rng.choice(tuple(ACCELERATORS))]
    dtype = rng.choice(("bf16", "fp8")) if acc.fp8_flops is not None else "bf16"
    bpp = DTYPE_BYTES[dtype]
    peak = _peak(acc, dtype)
    ridge = f.ridge_point(peak, acc.bandwidth)
    cross = f.crossover_batch(peak, acc.bandwidth, bpp)
    prefill_intensity = f.decode_intensity(2000, bpp)
    return Draft(
        text=f"A dense model decodes on one {acc.name}: {_bw(acc.bandwidth)} of "
        f"{acc.memory_kind}, {_flop_rate(peak)} of {dtype} compute, weights in {dtype}. "
        "From what batch size on is a decode step bound by compute rather than by reading "
        "the weights? (Leave the KV cache out.)",
        kind=Kind.COUNT,
        expected=cross,
        derivation=[
            f"Ridge point: {_peak_words(acc, dtype)} / {_bw(acc.bandwidth)} = {ridge:,.4g} "
            "FLOPs per byte",
            f"A decode step of batch B does 2 FLOPs per weight per token and reads each weight "
            f"once ({DTYPE_WORDS[dtype]}): intensity 2 x B / {bpp:g} FLOPs per byte",
            f"Compute-bound once 2 x B / {bpp:g} >= {ridge:,.4g}: B >= {cross:,.4g}",
            "Below it a bigger batch costs almost nothing per step: decode is memory-bound. "
            f"Prefill of a 2,000-token prompt runs at 2 x 2,000 / {bpp:g} = "
            f"{prefill_intensity:,.4g} FLOPs per byte: "
            + ("compute-bound." if prefill_intensity >= ridge else "still memory-bound."),
        ],
        params={"accelerator": acc.key, "dtype": dtype},
    )


def ttft(rng: random.Random) -> Draft:
    while True:
        acc = ACCELERATORS[rng.choice(tuple(ACCELERATORS))]
        m = _pick_model(rng)
        wdtype = rng.choice(_weight_dtypes(acc))
        weights_b = f.weight_bytes(f.total_params(m), DTYPE_BYTES[wdtype])
        if acc.key == "laptop-cpu":
            n = 1 if weights_b <= 0.6 * acc.memory else None
        else:
            n = _gpus_to_fit(acc, weights_b)
        if n is not None:
            break
    dtype = _compute_dtype(acc, wdtype)
    length = rng.choice((128, 256, 512, 1000, 2000, 4000))
    util = 0.5
    params = f.matmul_params(m, m.top_k if m.is_moe else 1)
    flops = f.matmul_flops(params, length)
    peak = n * _peak(acc, dtype)
    t_compute = f.compute_seconds(flops, peak, util)
    t_memory = weights_b / (n * acc.bandwidth)
    answer = max(t_compute, t_memory)
    attn = f.attention_flops(m, length)
    bound = "compute-bound" if t_compute >= t_memory else "memory-bound"
    where = f"{n} x {acc.name} (tensor parallel)" if n > 1 else f"one {acc.name}"
    routed = (
        f"; a {length:,}-token prompt routes tokens to every expert, so all of them are read"
        if m.is_moe
        else ""
    )
    return Draft(
        text=f"One request with a {length:,}-token prompt reaches an idle {m.summary()} on "
        f"{where}, weights in {wdtype}, matmuls at {util:.0%} of peak. Estimate the time to "
        "first token: the prefill of the prompt, nothing queued ahead.",
        kind=Kind.TIME,
        expected=answer,
        derivation=[
            f"Compute: 2 FLOPs x {_n(params)} matmul weights"
            + (f" (top-{m.top_k} experts)" if m.is_moe else "")
            + f" x {length:,} tokens = {_flops(flops)}",
            f"At {n} x {_peak_words(acc, dtype)} x {util}: {_t(t_compute)}",
            f"Memory: the pass reads every weight once{routed}: "
            f"{_b(weights_b)} / ({n} x {_bw(acc.bandwidth)}) = {_t(t_memory)}",
            f"Time to first token = max({_t(t_compute)}, {_t(t_memory)}) = {_t(answer)}: {bound}",
            f"Left out: attention's own FLOPs ({_pct(attn / flops)} more), tokenisation, "
            "the network, queueing.",
        ],
        params={
            "model": m.key,
            "accelerator": acc.key,
            "gpus": n,
            "weights_dtype": wdtype,
            "prompt_len": length,
            "utilisation": util,
        },
    )


def moe(rng: random.Random) -> Draft:
    m = _pick_model(rng, tuple(k for k, v in MODELS.items() if v.is_moe))
    active, total = f.active_params(m), f.total_params(m)
    lines = _param_lines(m, m.top_k)
    lines[-1] = f"Active per token: {_n(active)} parameters"
    ask = rng.choice(("active", "active share", "resident", "read"))
    if ask in ("resident", "read"):
        return _moe_bytes(rng, m, ask, lines)
    if ask == "active":
        return Draft(
            text=f"{m.summary()}: how many parameters does one token use (its active "
            f"parameters)? Its {_embedding_words(m)}.",
            kind=Kind.COUNT,
            expected=active,
            derivation=lines,
            params={"model": m.key, "ask": "active"},
        )
    share = active / total
    return Draft(
        text=f"{m.summary()}: what fraction of its parameters does one token use? Its "
        f"{_embedding_words(m)}.",
        kind=Kind.RATIO,
        expected=share,
        derivation=[
            *lines,
            f"Total: {_n(total)} (all {m.n_experts} experts in every layer)",
            f"Share: {active:,} / {total:,} = {_pct(share)}",
        ],
        params={"model": m.key, "ask": "active share"},
        percent=True,
    )


def _moe_bytes(rng: random.Random, m: Model, ask: str, lines: list[str]) -> Draft:
    """Memory holds every expert; a decode step at batch 1 reads only the routed ones."""
    dtype = rng.choice(("bf16", "fp8", "int4"))
    if ask == "resident":
        total = f.total_params(m)
        size = f.weight_bytes(total, DTYPE_BYTES[dtype])
        return Draft(
            text=f"{m.summary()}, weights in {dtype}: how many bytes of weights must sit in "
            f"GPU memory to serve it? Its {_embedding_words(m)}.",
            kind=Kind.BYTES,
            expected=size,
            derivation=[
                *_param_lines(m, m.n_experts),
                "Every expert must be resident: any token may be routed to any of them",
                f"Bytes: {total:,} x {DTYPE_WORDS[dtype]} = {_b(size)}",
            ],
            params={"model": m.key, "ask": ask, "dtype": dtype},
        )
    read = f.decode_read_params(m, m.top_k)
    size = f.weight_bytes(read, DTYPE_BYTES[dtype])
    return Draft(
        text=f"{m.summary()}, weights in {dtype}, decoding one sequence (batch 1): how many "
        "bytes of weights does one decode step read? Its "
        f"{_embedding_words(m)}.",
        kind=Kind.BYTES,
        expected=size,
        derivation=[
            *lines[:-1],
            f"Read per step: the active parameters less the input embedding (a one-row "
            f"lookup): {_n(read)}",
            f"Bytes: {read:,} x {DTYPE_WORDS[dtype]} = {_b(size)}",
            "At a larger batch the tokens spread over more experts, and a step reads more.",
        ],
        params={"model": m.key, "ask": ask, "dtype": dtype},
    )


def allreduce(rng: random.Random) -> Draft:
    acc = ACCELERATORS[rng.choice(("h100", "h200", "a100", "l4"))]
    assert acc.link_bandwidth is not None
    m = _pick_model(rng)
    n = rng.choice((2, 4, 8))
    tokens = rng.choice((16, 64, 256, 2048, 8192))
    nbytes = tokens * m.d_model * DTYPE_BYTES["bf16"]
    one = f.ring_all_reduce_seconds(n, nbytes, acc.link_bandwidth)
    per_layer = f.ALL_REDUCES_PER_LAYER * one
    whole = rng.random() < 0.4
    answer = per_layer * m.n_layers if whole else per_layer
    share = 2 * (n - 1) / n
    lines = [
        f"Each all-reduce sums {tokens:,} tokens x {m.d_model:,} hidden x 2 bytes per bf16 "
        f"value = {_b(nbytes)}",
        "Two per layer (Megatron-style tensor parallelism: after attention's output "
        "projection and after the MLP's down projection)",
        f"Ring all-reduce: each GPU sends 2(N-1)/N = 2 x {n - 1}/{n} = {share:.3g} times the "
        f"buffer, {_b(share * nbytes)}, over {_bw(acc.link_bandwidth)} each way "
        f"({acc.link}): {_t(one)}",
        f"Per layer: 2 x {_t(one)} = {_t(per_layer)}",
    ]
    if whole:
        lines.append(f"Whole pass: {m.n_layers} layers x {_t(per_layer)} = {_t(answer)}")
    lines.append(
        f"Left out: each of the 2(N-1) = {2 * (n - 1)} ring steps also pays a latency of "
        "microseconds, which dominates small decode messages; NCCL reaches somewhat less "
        "than the datasheet's link bandwidth."
    )
    scope = f"a whole forward pass ({m.n_layers} layers)" if whole else "one layer"
    return Draft(
        text=f"{m.name} (hidden size {m.d_model:,}, {m.n_layers} layers) runs with {n}-way "
        f"tensor parallelism on {acc.name}s linked by {acc.link}. A step processes {tokens:,} "
        f"tokens with bf16 activations. With ring all-reduce, how long do the all-reduces of "
        f"{scope} take, counting bandwidth only (no latency)?",
        kind=Kind.TIME,
        expected=answer,
        derivation=lines,
        params={
            "model": m.key,
            "accelerator": acc.key,
            "gpus": n,
            "tokens": tokens,
            "scope": "pass" if whole else "layer",
        },
    )


# Output tokens/s one GPU sustains for a 7-8B model at a batch that keeps latency on target:
# round figures for the questions, of the order that serving engines report.
_THROUGHPUT = {
    "h100": (2500, 4000, 6000),
    "h200": (3500, 5000, 7000),
    "a100": (1500, 2500),
    "l4": (400, 800, 1200),
}
_PRICE = {
    "h100": (2.0, 2.5, 3.0, 4.0),
    "h200": (3.0, 3.5, 4.5),
    "a100": (1.2, 1.5, 2.0),
    "l4": (0.5, 0.7, 0.8),
}


def gpus(rng: random.Random) -> Draft:
    while True:
        acc = ACCELERATORS[rng.choice(tuple(_THROUGHPUT))]
        m = _pick_model(rng, ("mistral-7b", "llama-3-8b"))
        per_gpu = rng.choice(_THROUGHPUT[acc.key])
        out_tokens = rng.choice((200, 300, 500, 1000))
        util = rng.choice((0.6, 0.7, 0.8))
        daily = rng.random() < 0.5
        if daily:
            millions = rng.choice((5, 10, 20, 50, 100))
            peak_factor = rng.choice((2, 3))
            rps = millions * 1e6 / 86400 * peak_factor
        else:
            rps = rng.choice((10, 20, 50, 100, 200, 500))
        demand = rps * out_tokens
        answer = f.gpus_needed(demand, per_gpu, util)
        if 4 <= answer <= 2000:
            break
    if daily:
        traffic = f"{millions} million requests a day, with a peak {peak_factor}x the day's average"
        first = [
            f"Average: {millions:,} million / 86,400 s a day = {millions * 1e6 / 86400:,.4g} "
            f"requests/s; peak x {peak_factor} = {rps:,.4g} requests/s"
        ]
    else:
        traffic = f"{rps:,.4g} requests/s at peak"
        first = []
    return Draft(
        text=f"A chat service gets {traffic}, each generating {out_tokens:,} output tokens on "
        f"average. One {acc.name} serving {m.name} sustains {per_gpu:,} output tokens/s at a "
        f"batch that keeps latency on target, and you plan to run GPUs at {util:.0%} of that "
        "at peak (headroom for bursts and a failed node). How many GPUs do you need?",
        kind=Kind.COUNT,
        expected=answer,
        derivation=[
            *first,
            f"Demand at peak: {rps:,.4g} requests/s x {out_tokens:,} tokens = {_rate(demand)}",
            f"Per GPU at {util:.0%}: {per_gpu:,} x {util} = {_rate(per_gpu * util)}",
            f"GPUs: ceil({_rate(demand)} / {_rate(per_gpu * util)}) = "
            f"ceil({demand / (per_gpu * util):,.4g}) = {answer:,}",
            "Why not 100%: near full load queues grow without bound and latency with them; far "
            "below it you pay for idle GPUs (at 30% you pay for over 3x what you use).",
        ],
        params={
            "accelerator": acc.key,
            "model": m.key,
            "per_gpu_tok_s": per_gpu,
            "requests_per_s": rps,
            "output_tokens": out_tokens,
            "utilisation": util,
        },
    )


def cost(rng: random.Random) -> Draft:
    acc = ACCELERATORS[rng.choice(tuple(_PRICE))]
    m = _pick_model(rng, ("mistral-7b", "llama-3-8b"))
    price = rng.choice(_PRICE[acc.key])
    per_gpu = rng.choice(_THROUGHPUT[acc.key])
    util = rng.choice((0.3, 0.5, 0.7, 1.0))
    answer = f.cost_per_million_tokens(price, per_gpu, util)
    per_hour = per_gpu * util * f.SECONDS_PER_HOUR
    lines = [
        f"Tokens per GPU-hour: {per_gpu:,} tokens/s x {util} average utilisation x 3,600 s "
        f"= {per_hour:,.0f}",
        f"Cost: ${price:.2f} / {per_hour:,.0f} tokens x 1,000,000 = "
        f"{show(Kind.MONEY, answer)} per million tokens",
    ]
    if util < 1:
        full = f.cost_per_million_tokens(price, per_gpu, 1.0)
        lines.append(
            f"Idle time is paid for: at 100% the same GPU would cost "
            f"{show(Kind.MONEY, full)} per million."
        )
    return Draft(
        text=f"An {acc.name} rents at ${price:.2f} per GPU-hour. Serving {m.name} it produces "
        f"{per_gpu:,} output tokens/s at full load, and over a day it averages {util:.0%} of "
        "that. What does a million output tokens cost?",
        kind=Kind.MONEY,
        expected=answer,
        derivation=lines,
        params={
            "accelerator": acc.key,
            "model": m.key,
            "price_per_hour": price,
            "per_gpu_tok_s": per_gpu,
            "utilisation": util,
        },
    )


def speculative(rng: random.Random) -> Draft:
    alpha = rng.choice((0.5, 0.6, 0.7, 0.8, 0.9))
    gamma = rng.choice((2, 3, 4, 5, 7))
    c = rng.choice((0.02, 0.05, 0.1, 0.2))
    tokens = f.expected_tokens_per_step(alpha, gamma)
    step = gamma * c + 1
    answer = f.speculative_speedup(alpha, gamma, c)
    return Draft(
        text=f"Speculative decoding: a draft model proposes {gamma} tokens per step and the "
        f"target model checks them in one forward pass. Each drafted token is accepted with "
        f"probability {alpha} (independently), and a draft token costs {c} of a target "
        "forward pass. What is the expected speed-up over plain decoding, as a factor?",
        kind=Kind.RATIO,
        expected=answer,
        derivation=[
            f"Tokens per step (the accepted prefix plus the target's own next token): "
            f"(1 - a^(g+1)) / (1 - a) with a = {alpha}, g = {gamma}: "
            f"(1 - {alpha}^{gamma + 1}) / (1 - {alpha}) = {tokens:.4g}",
            f"Cost per step, in target passes: g x c + 1 = {gamma} x {c} + 1 = {step:.4g}",
            f"Speed-up: {tokens:.4g} / {step:.4g} = {answer:.3g}x",
            "Source: Leviathan, Kalman and Matias, 'Fast Inference from Transformers via "
            "Speculative Decoding' (2023). It assumes decode is memory-bound, so checking "
            f"{gamma + 1} tokens costs about one plain step.",
        ],
        params={"acceptance": alpha, "draft_len": gamma, "draft_cost": c},
    )


@dataclass(frozen=True)
class Topic:
    name: str
    asks: str
    make: Callable[[random.Random], Draft]


TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic("weights", "parameter count, or weight bytes at a dtype", weights),
        Topic("kv-cache", "KV cache bytes per token, sequence or batch (GQA, windows)", kv_cache),
        Topic("batch", "the largest batch whose KV caches fit a memory budget", batch),
        Topic(
            "decode", "decode tokens/s bound by memory bandwidth, or the bandwidth needed", decode
        ),
        Topic("prefill", "prefill time bound by compute", prefill),
        Topic("intensity", "the batch where decode turns compute-bound (roofline)", intensity),
        Topic("ttft", "time to first token: compute or memory, whichever binds", ttft),
        Topic("moe", "MoE active parameters, their share, bytes resident or read", moe),
        Topic("allreduce", "tensor-parallel ring all-reduce time per layer or pass", allreduce),
        Topic("gpus", "GPUs needed for a traffic figure with headroom", gpus),
        Topic("cost", "dollars per million tokens from a GPU-hour price", cost),
        Topic("speculative", "speculative decoding's expected speed-up", speculative),
    )
}
if tuple(TOPICS) != TOPIC_NAMES:  # the help lists drills/estimate/names.py
    raise ImportError(
        f"drills/estimate/names.py lists {TOPIC_NAMES}, the generators {tuple(TOPICS)}"
    )


def generate(topic: str, seed: int) -> Question:
    """The question `seed` of `topic`: the same pair is always the same question."""
    draft = TOPICS[topic].make(random.Random(f"{topic}/{seed}"))
    return Question(
        topic=topic,
        seed=seed,
        text=draft.text,
        kind=draft.kind,
        expected=float(draft.expected),
        derivation=tuple(draft.derivation),
        params=draft.params,
        percent=draft.percent,
    )


def session_questions(topic: str | None, seed: int) -> Callable[[int], Question]:
    """Question i (from 0) of a session: `topic`'s, or a topic drawn for each; seeded."""

    def question(i: int) -> Question:
        rng = random.Random(f"session/{seed}/{i}")
        name = topic or rng.choice(TOPIC_NAMES)
        return generate(name, rng.randrange(MAX_SEED))

    return question
