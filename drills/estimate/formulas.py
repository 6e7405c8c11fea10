"""Every formula the questions use, in one typed module, each with its assumptions.

Quantities are plain floats in base units: bytes, seconds, FLOPs, FLOP/s, bytes/s,
tokens/s, dollars. Each function is pinned by a hand-worked case in
tests/estimate/test_formulas.py.
"""

from __future__ import annotations

import math

from drills.estimate.specs import Model

KV_TENSORS = 2  # a K and a V vector per token, layer and KV head
FLOPS_PER_PARAM_TOKEN = 2  # one multiply and one add per weight per token (a matmul)
SWIGLU_MATRICES = 3  # gate, up and down projections
NORMS_PER_LAYER = 2  # RMSNorm before attention and before the MLP
ALL_REDUCES_PER_LAYER = 2  # tensor parallelism: after attention's output and the MLP's down
SECONDS_PER_HOUR = 3600
MILLION = 1e6


# --- parameters ---------------------------------------------------------------------------


def attention_params(m: Model) -> int:
    """Q (d x heads*hd), K and V (d x kv_heads*hd each), O (heads*hd x d); no biases."""
    q_width = m.n_heads * m.head_dim
    kv_width = m.n_kv_heads * m.head_dim
    return m.d_model * q_width + 2 * m.d_model * kv_width + q_width * m.d_model


def expert_params(m: Model) -> int:
    """One SwiGLU MLP: three d x ffn matrices."""
    return SWIGLU_MATRICES * m.d_model * m.ffn_dim


def router_params(m: Model) -> int:
    """The gate that scores experts: d x experts (none in a dense model)."""
    return m.d_model * m.n_experts if m.is_moe else 0


def layer_params(m: Model, experts: int) -> int:
    """One decoder layer counting `experts` MLPs (all of them, or the top-k a token uses)."""
    return (
        attention_params(m)
        + experts * expert_params(m)
        + router_params(m)
        + NORMS_PER_LAYER * m.d_model
    )


def embedding_params(m: Model) -> int:
    """Input embedding and output head (one matrix if tied), plus the final norm."""
    return m.vocab * m.d_model * (1 if m.tied_embeddings else 2) + m.d_model


def total_params(m: Model) -> int:
    return m.n_layers * layer_params(m, m.n_experts) + embedding_params(m)


def active_params(m: Model) -> int:
    """What one token uses: every layer's attention and router, its top-k experts."""
    return m.n_layers * layer_params(m, m.top_k) + embedding_params(m)


def matmul_params(m: Model, experts: int) -> int:
    """Weights a token multiplies through (2 FLOPs each): every layer's attention, router
    and `experts` MLPs, and the output head; not the norms, not the input embedding
    (a lookup of one row)."""
    per_layer = attention_params(m) + experts * expert_params(m) + router_params(m)
    return m.n_layers * per_layer + m.vocab * m.d_model


def decode_read_params(m: Model, experts: int) -> int:
    """Weights a decode step reads: all of them but the input embedding's other rows
    (with tied embeddings the output head reads that matrix whole, so it is the same sum)."""
    return m.n_layers * layer_params(m, experts) + m.vocab * m.d_model + m.d_model


def weight_bytes(params: float, bytes_per_param: float) -> float:
    return params * bytes_per_param


# --- KV cache -------------------------------------------------------------------------------


def kv_bytes_per_token(m: Model, bytes_per_value: float) -> float:
    """2 (K and V) x layers x KV heads x head dim x bytes per value."""
    return KV_TENSORS * m.n_layers * m.n_kv_heads * m.head_dim * bytes_per_value


def cached_tokens(m: Model, seq_len: int) -> int:
    """Tokens a sequence keeps in the cache: a sliding window caps it at the window."""
    return min(seq_len, m.window) if m.window else seq_len


def kv_bytes_per_sequence(m: Model, seq_len: int, bytes_per_value: float) -> float:
    return kv_bytes_per_token(m, bytes_per_value) * cached_tokens(m, seq_len)


def max_batch(budget: float, weights: float, kv_per_sequence: float) -> int:
    """Sequences whose caches fit in what the weights leave of `budget` (0 if none)."""
    return max(0, math.floor((budget - weights) / kv_per_sequence))


# --- time on one device ---------------------------------------------------------------------


def decode_tokens_per_s(bandwidth: float, step_bytes: float, batch: int) -> float:
    """Memory-bound decode: each step reads `step_bytes` once and yields `batch` tokens."""
    return batch * bandwidth / step_bytes


def matmul_flops(params: float, tokens: float) -> float:
    return FLOPS_PER_PARAM_TOKEN * params * tokens


def attention_flops(m: Model, prompt_len: int, batch: int = 1) -> float:
    """Scores and weighted sum of causal attention over a prompt: QK^T and AV, each
    2 x T x T x heads*hd per layer, halved by the causal mask (window caps the keys)."""
    keys = min(prompt_len, m.window) if m.window else prompt_len
    per_layer = 2 * 2 * prompt_len * keys * m.n_heads * m.head_dim / 2
    return batch * m.n_layers * per_layer


def compute_seconds(flops: float, peak_flops: float, utilisation: float) -> float:
    return flops / (peak_flops * utilisation)


def ridge_point(peak_flops: float, bandwidth: float) -> float:
    """FLOPs per byte above which a kernel is compute-bound (the roofline's corner)."""
    return peak_flops / bandwidth


def decode_intensity(batch: int, bytes_per_param: float) -> float:
    """FLOPs per weight byte read in a decode step of `batch` tokens."""
    return FLOPS_PER_PARAM_TOKEN * batch / bytes_per_param


def crossover_batch(peak_flops: float, bandwidth: float, bytes_per_param: float) -> float:
    """The decode batch whose intensity reaches the ridge point: below it, memory-bound."""
    return ridge_point(peak_flops, bandwidth) * bytes_per_param / FLOPS_PER_PARAM_TOKEN


# --- several devices ------------------------------------------------------------------------


def ring_all_reduce_seconds(n: int, nbytes: float, link_bandwidth: float) -> float:
    """Ring all-reduce: each device sends (and receives) 2(N-1)/N of the buffer over its
    link (reduce-scatter, then all-gather). Bandwidth term only: no per-hop latency."""
    return 2 * (n - 1) / n * nbytes / link_bandwidth


def gpus_needed(demand_tokens_per_s: float, per_gpu_tokens_per_s: float, utilisation: float) -> int:
    """GPUs to serve a peak demand while each runs at `utilisation` of its throughput."""
    return math.ceil(demand_tokens_per_s / (per_gpu_tokens_per_s * utilisation))


def cost_per_million_tokens(
    price_per_gpu_hour: float, tokens_per_s_per_gpu: float, utilisation: float
) -> float:
    """Dollars per million tokens: an hour's price over the tokens an hour yields."""
    tokens_per_hour = tokens_per_s_per_gpu * utilisation * SECONDS_PER_HOUR
    return price_per_gpu_hour / tokens_per_hour * MILLION


# --- speculative decoding ------------------------------------------------------------------


def expected_tokens_per_step(acceptance: float, draft_len: int) -> float:
    """Tokens a verification step yields with i.i.d. acceptance rate a and draft length
    g: (1 - a^(g+1)) / (1 - a) (Leviathan, Kalman and Matias, "Fast Inference from
    Transformers via Speculative Decoding", 2023)."""
    if acceptance >= 1:
        return float(draft_len + 1)
    return (1 - acceptance ** (draft_len + 1)) / (1 - acceptance)


def speculative_speedup(acceptance: float, draft_len: int, draft_cost: float) -> float:
    """Walltime improvement: tokens per step over the step's cost in target-model calls,
    g x c + 1, with c the draft's cost per token relative to the target (same paper)."""
    return expected_tokens_per_step(acceptance, draft_len) / (draft_len * draft_cost + 1)
