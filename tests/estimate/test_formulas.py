"""The formulas, pinned by numbers worked out by hand, and checked against the reference
engine: its parameters (built on the meta device from each real config) and the bytes of
its KV caches."""

from __future__ import annotations

import math

import pytest
import torch

from drills.estimate import formulas as f
from drills.estimate.specs import ACCELERATORS, DTYPE_BYTES, MODELS, Model
from reference.kv_cache import KVCache, RollingKVCache
from reference.loading import ModelArgs
from reference.model import Transformer

MISTRAL_7B = MODELS["mistral-7b"]


def test_kv_cache_per_token_of_mistral_7b_in_bf16() -> None:
    # 2 (K and V) x 32 layers x 8 KV heads x 128 head dim x 2 bytes = 131,072 B
    assert f.kv_bytes_per_token(MISTRAL_7B, 2) == 2 * 32 * 8 * 128 * 2 == 131_072


def test_kv_cache_per_token_of_llama_3_70b_in_fp8() -> None:
    # 2 x 80 layers x 8 KV heads x 128 x 1 byte = 163,840 B: GQA keeps it below Mistral
    # 7B's in bf16 although the model is ten times larger
    assert f.kv_bytes_per_token(MODELS["llama-3-70b"], 1) == 163_840


def test_the_sliding_window_caps_a_sequence_at_the_window() -> None:
    # Mistral 7B keeps 4,096 tokens: 16,384 tokens cost what 4,096 do, 4,096 x 131,072 B
    assert f.kv_bytes_per_sequence(MISTRAL_7B, 16_384, 2) == 4_096 * 131_072 == 536_870_912
    assert f.kv_bytes_per_sequence(MISTRAL_7B, 2_048, 2) == 2_048 * 131_072
    # Llama 3 8B has no window: every token stays
    assert f.kv_bytes_per_sequence(MODELS["llama-3-8b"], 8_192, 2) == 8_192 * 131_072


def test_parameter_counts_of_the_dense_models() -> None:
    # Mistral 7B, per layer: Q 4096x4096 + K,V 2x4096x1024 + O 4096x4096 = 41,943,040;
    # MLP 3x4096x14336 = 176,160,768; norms 2x4096 = 8,192. Embeddings 2x32000x4096 + 4096.
    per_layer = 4096 * 4096 + 2 * 4096 * 1024 + 4096 * 4096 + 3 * 4096 * 14336 + 2 * 4096
    assert per_layer == 218_112_000
    assert f.total_params(MISTRAL_7B) == 32 * per_layer + 2 * 32000 * 4096 + 4096
    assert f.total_params(MISTRAL_7B) == 7_241_732_096
    assert f.total_params(MODELS["llama-3-8b"]) == 8_030_261_248  # "8B": vocab 128,256
    assert f.total_params(MODELS["llama-3-70b"]) == 70_553_706_496
    # Mistral Large 2: 88 x (327,155,712 + 3x12288x28672 + 2x12288) + 2x32768x12288 + 12288
    assert f.total_params(MODELS["mistral-large-2"]) == 122_610_069_504


def test_moe_total_and_active_parameters() -> None:
    m = MODELS["mixtral-8x7b"]
    # per layer: attention 41,943,040 + 8 experts x 176,160,768 + router 4096x8 + norms 8,192
    assert f.total_params(m) == 32 * (41_943_040 + 8 * 176_160_768 + 32_768 + 8_192) + (
        262_144_000 + 4_096
    )
    assert f.total_params(m) == 46_702_792_704  # Mistral's "46.7B"
    # a token uses 2 of the 8 experts: "12.9B active"
    assert f.active_params(m) == 32 * (41_943_040 + 2 * 176_160_768 + 32_768 + 8_192) + (
        262_144_000 + 4_096
    )
    assert f.active_params(m) == 12_879_925_248
    big = MODELS["mixtral-8x22b"]
    assert f.total_params(big) == 140_620_634_112  # "141B"
    assert f.active_params(big) == 39_152_031_744  # "39B active"


def _args(m: Model) -> ModelArgs:
    return ModelArgs(
        dim=m.d_model,
        hidden_dim=m.ffn_dim,
        n_layers=m.n_layers,
        n_heads=m.n_heads,
        n_kv_heads=m.n_kv_heads,
        head_dim=m.head_dim,
        vocab_size=m.vocab,
        norm_eps=1e-5,
        rope_theta=1e4,
        sliding_window=m.window,
        n_experts=m.n_experts if m.is_moe else 0,
        experts_per_tok=m.top_k,
    )


@pytest.mark.parametrize("key", sorted(MODELS))
def test_parameter_count_equals_the_reference_engines_model(key: str) -> None:
    m = MODELS[key]
    with torch.device("meta"):  # shapes only: no memory for 123 billion parameters
        model = Transformer(_args(m))
    assert f.total_params(m) == sum(p.numel() for p in model.parameters())


def test_kv_formula_equals_the_bytes_the_reference_caches_allocate() -> None:
    tiny = Model(
        key="tiny",
        name="tiny",
        n_layers=3,
        d_model=64,
        n_heads=4,
        n_kv_heads=2,
        head_dim=16,
        ffn_dim=128,
        vocab=100,
        context=32,
        source="a test",
    )
    batch, seq = 5, 32
    cache = KVCache(3, batch, seq, 2, 16, dtype=torch.bfloat16)
    allocated = sum(t.numel() * t.element_size() for t in (cache.k, cache.v))
    assert allocated == batch * f.kv_bytes_per_sequence(tiny, seq, DTYPE_BYTES["bf16"])
    assert allocated == 5 * 32 * (2 * 3 * 2 * 16 * 2)  # 30,720 B

    windowed = Model(**{**tiny.__dict__, "key": "tiny-window", "window": 8})
    rolling = RollingKVCache(3, batch, 8, 2, 16, dtype=torch.float32)
    allocated = sum(t.numel() * t.element_size() for t in (rolling.k, rolling.v))
    assert allocated == batch * f.kv_bytes_per_sequence(windowed, seq, DTYPE_BYTES["fp32"])


def test_largest_batch_is_what_the_weights_leave_over_one_sequence() -> None:
    # 72 GB usable, 16 GB of weights: 56 GB for caches of 1 GB each -> 56 sequences
    assert f.max_batch(72e9, 16e9, 1e9) == 56
    assert f.max_batch(72e9, 16e9, 1.1e9) == 50  # floor(50.9)
    assert f.max_batch(10e9, 16e9, 1e9) == 0  # the weights alone do not fit


def test_decode_bound_of_llama_3_8b_on_an_h100() -> None:
    m = MODELS["llama-3-8b"]
    read = f.decode_read_params(m, 1)
    # all but the input embedding: 8,030,261,248 - 128,256 x 4,096 = 7,504,924,672
    assert read == 8_030_261_248 - 128_256 * 4_096 == 7_504_924_672
    step = f.weight_bytes(read, 2)  # bf16: 15,009,849,344 B
    # 3.35e12 B/s / 15,009,849,344 B = 223.19 tokens/s at batch 1
    assert f.decode_tokens_per_s(ACCELERATORS["h100"].bandwidth, step, 1) == pytest.approx(
        223.19, abs=0.01
    )
    # batch 8 with 1 GB of KV cache per sequence: 8 x 3.35e12 / (15.0098e9 + 8e9) = 1164.7
    assert f.decode_tokens_per_s(3.35e12, step + 8e9, 8) == pytest.approx(1164.7, abs=0.1)


def test_prefill_flops_and_time() -> None:
    # Mistral 7B's matmul weights: 32 x (41,943,040 + 176,160,768) + 32,000 x 4,096
    params = f.matmul_params(MISTRAL_7B, 1)
    assert params == 32 * (41_943_040 + 176_160_768) + 32_000 * 4_096 == 7_110_393_856
    flops = f.matmul_flops(params, 2_000)  # 2 x 7,110,393,856 x 2,000 = 2.844e13
    assert flops == 2 * 7_110_393_856 * 2_000
    # on an H100 at 50% of 989.4 TFLOP/s: 2.844e13 / 4.947e14 = 57.5 ms
    assert f.compute_seconds(flops, 989.4e12, 0.5) == pytest.approx(0.05749, abs=1e-5)
    # attention over a 2,048-token prompt of Llama 3 8B: 2 x 2048^2 x 4096 x 32 layers
    assert f.attention_flops(MODELS["llama-3-8b"], 2_048) == 2 * 2048**2 * 4096 * 32
    # the window caps the keys: Mistral 7B at 8,192 tokens attends 4,096 keys per query
    assert f.attention_flops(MISTRAL_7B, 8_192) == 2 * 8192 * 4096 * 4096 * 32


def test_roofline_crossover() -> None:
    h100 = ACCELERATORS["h100"]
    # 989.4e12 / 3.35e12 = 295.3 FLOPs per byte; bf16 decode does 2B / 2 = B per byte
    assert f.ridge_point(h100.bf16_flops, h100.bandwidth) == pytest.approx(295.34, abs=0.01)
    assert f.crossover_batch(h100.bf16_flops, h100.bandwidth, 2) == pytest.approx(295.34, 0.001)
    # fp8 doubles both the FLOPs and the weights per byte: the same batch
    assert h100.fp8_flops is not None
    assert f.crossover_batch(h100.fp8_flops, h100.bandwidth, 1) == pytest.approx(295.34, 0.001)
    assert f.decode_intensity(64, 2) == 64


def test_ring_all_reduce() -> None:
    # 4,096 tokens x 8,192 hidden x 2 bytes = 67,108,864 B; 8 GPUs send 2 x 7/8 = 1.75 of it,
    # 117,440,512 B over 450 GB/s = 260.98 us
    assert f.ring_all_reduce_seconds(8, 4096 * 8192 * 2, 450e9) == pytest.approx(
        260.98e-6, rel=1e-4
    )
    assert f.ring_all_reduce_seconds(2, 1e9, 1e9) == 1.0  # 2 x 1/2 = 1 buffer


def test_gpus_and_cost() -> None:
    # 100 requests/s x 500 tokens = 50,000 tok/s over 2,500 x 0.7 = 1,750 per GPU: 28.6 -> 29
    assert f.gpus_needed(100 * 500, 2500, 0.7) == 29
    assert f.gpus_needed(7000, 1000, 0.7) == 10  # exactly 10: no GPU more
    # $2.50 an hour over 2,500 tok/s x 0.5 x 3,600 s = 4.5M tokens: $0.5556 per million
    assert f.cost_per_million_tokens(2.5, 2500, 0.5) == pytest.approx(0.55556, abs=1e-5)


def test_speculative_decoding() -> None:
    # a = 0.8, g = 4: (1 - 0.8^5) / 0.2 = (1 - 0.32768) / 0.2 = 3.3616 tokens per step;
    # cost 4 x 0.05 + 1 = 1.2 target passes: 2.8013x
    assert f.expected_tokens_per_step(0.8, 4) == pytest.approx(3.3616)
    assert f.speculative_speedup(0.8, 4, 0.05) == pytest.approx(3.3616 / 1.2)
    assert f.expected_tokens_per_step(1.0, 4) == 5  # everything accepted
    assert f.expected_tokens_per_step(0.0, 4) == 1  # only the target's own token


def test_every_spec_names_its_source_and_dense_flops() -> None:
    for m in MODELS.values():
        assert "config.json" in m.source, m.key
    for a in ACCELERATORS.values():
        assert a.source and math.isfinite(a.bandwidth) and a.bf16_flops > 0, a.key
    # the datasheet's headline figures are with 2:4 sparsity: ours are half of them
    assert ACCELERATORS["h100"].bf16_flops == pytest.approx(1979e12 / 2, rel=1e-3)
    assert ACCELERATORS["l4"].fp8_flops == pytest.approx(485e12 / 2, rel=1e-3)
