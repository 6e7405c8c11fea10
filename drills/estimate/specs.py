"""The numbers questions are made from: real model configs and accelerator datasheets.

Every entry names its source. Model figures are the fields of the model's published
`config.json` (hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
head_dim (hidden_size / heads where the file has none), intermediate_size, vocab_size,
num_local_experts, num_experts_per_tok, sliding_window, max_position_embeddings,
tie_word_embeddings). Accelerator figures are the vendor's datasheet; FLOPs are
*dense* (the datasheets' headline tensor figures assume 2:4 structured sparsity and are
twice these).

Units: bytes, bytes per second, FLOP per second. GB = 1e9 bytes, GiB = 2**30 bytes;
datasheets use decimal units (80 GB of HBM is 80e9 bytes, 3.35 TB/s is 3.35e12 B/s).
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1e9
TB = 1e12
TFLOPS = 1e12


@dataclass(frozen=True)
class Model:
    """A decoder-only transformer with RMSNorm, SwiGLU MLPs and grouped-query attention."""

    key: str
    name: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_dim: int  # intermediate_size: the width of one SwiGLU MLP (one expert's, for MoE)
    vocab: int
    context: int  # max_position_embeddings
    source: str
    n_experts: int = 1  # 1: a dense model
    top_k: int = 1  # experts each token is routed to
    window: int | None = None  # sliding-window attention: the KV cache keeps this many tokens
    tied_embeddings: bool = False  # one matrix for the input embedding and the output head

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    def summary(self) -> str:
        """The config in one line, as a question gives it."""
        parts = [
            f"{self.n_layers} layers",
            f"hidden size {self.d_model:,}",
            f"{self.n_heads} query heads and {self.n_kv_heads} KV heads of dimension {self.head_dim}",
        ]
        if self.is_moe:
            parts.append(
                f"{self.n_experts} SwiGLU experts of width {self.ffn_dim:,} per layer, "
                f"top-{self.top_k} routing"
            )
        else:
            parts.append(f"SwiGLU MLP of width {self.ffn_dim:,}")
        parts.append(f"vocabulary {self.vocab:,}")
        if self.window:
            parts.append(f"sliding window {self.window:,}")
        return f"{self.name} ({', '.join(parts)})"


@dataclass(frozen=True)
class Accelerator:
    key: str
    name: str
    memory: float  # bytes
    memory_kind: str  # "HBM3", "GDDR6", ...
    bandwidth: float  # bytes/s, the memory's peak
    bf16_flops: float  # FLOP/s, dense (no sparsity)
    fp8_flops: float | None  # FLOP/s, dense; None: no FP8 tensor cores
    link: str  # the interconnect between two of them
    link_bandwidth: float | None  # bytes/s in each direction; None: no link to speak of
    source: str
    note: str = ""


MODELS: dict[str, Model] = {
    m.key: m
    for m in (
        Model(
            key="mistral-7b",
            name="Mistral 7B",
            n_layers=32,
            d_model=4096,
            n_heads=32,
            n_kv_heads=8,
            head_dim=128,
            ffn_dim=14336,
            vocab=32000,
            context=32768,
            window=4096,
            source="config.json of mistralai/Mistral-7B-v0.1 (sliding_window 4096)",
        ),
        Model(
            key="mixtral-8x7b",
            name="Mixtral 8x7B",
            n_layers=32,
            d_model=4096,
            n_heads=32,
            n_kv_heads=8,
            head_dim=128,
            ffn_dim=14336,
            vocab=32000,
            context=32768,
            n_experts=8,
            top_k=2,
            source="config.json of mistralai/Mixtral-8x7B-v0.1 (sliding_window null)",
        ),
        Model(
            key="mixtral-8x22b",
            name="Mixtral 8x22B",
            n_layers=56,
            d_model=6144,
            n_heads=48,
            n_kv_heads=8,
            head_dim=128,
            ffn_dim=16384,
            vocab=32000,
            context=65536,
            n_experts=8,
            top_k=2,
            source="config.json of mistralai/Mixtral-8x22B-v0.1",
        ),
        Model(
            key="llama-3-8b",
            name="Llama 3 8B",
            n_layers=32,
            d_model=4096,
            n_heads=32,
            n_kv_heads=8,
            head_dim=128,
            ffn_dim=14336,
            vocab=128256,
            context=8192,
            source="config.json of meta-llama/Meta-Llama-3-8B",
        ),
        Model(
            key="llama-3-70b",
            name="Llama 3 70B",
            n_layers=80,
            d_model=8192,
            n_heads=64,
            n_kv_heads=8,
            head_dim=128,
            ffn_dim=28672,
            vocab=128256,
            context=8192,
            source="config.json of meta-llama/Meta-Llama-3-70B",
        ),
        Model(
            key="mistral-large-2",
            name="Mistral Large 2 (123B, dense)",
            n_layers=88,
            d_model=12288,
            n_heads=96,
            n_kv_heads=8,
            head_dim=128,
            ffn_dim=28672,
            vocab=32768,
            context=131072,
            source="config.json of mistralai/Mistral-Large-Instruct-2411",
        ),
    )
}

ACCELERATORS: dict[str, Accelerator] = {
    a.key: a
    for a in (
        Accelerator(
            key="h100",
            name="H100 SXM",
            memory=80 * GB,
            memory_kind="HBM3",
            bandwidth=3.35 * TB,
            bf16_flops=989.4 * TFLOPS,
            fp8_flops=1978.9 * TFLOPS,
            link="NVLink 4 (900 GB/s in all, 450 GB/s each way)",
            link_bandwidth=450 * GB,
            source="NVIDIA H100 Tensor Core GPU datasheet, SXM column (1,979 / 3,958 "
            "TFLOPS BF16 / FP8 are with sparsity: dense is half)",
        ),
        Accelerator(
            key="h200",
            name="H200 SXM",
            memory=141 * GB,
            memory_kind="HBM3e",
            bandwidth=4.8 * TB,
            bf16_flops=989.4 * TFLOPS,
            fp8_flops=1978.9 * TFLOPS,
            link="NVLink 4 (900 GB/s in all, 450 GB/s each way)",
            link_bandwidth=450 * GB,
            source="NVIDIA H200 Tensor Core GPU datasheet, SXM column (the H100's "
            "compute; sparsity figures halved)",
        ),
        Accelerator(
            key="a100",
            name="A100 80GB SXM",
            memory=80 * GB,
            memory_kind="HBM2e",
            bandwidth=2.039 * TB,
            bf16_flops=312 * TFLOPS,
            fp8_flops=None,
            link="NVLink 3 (600 GB/s in all, 300 GB/s each way)",
            link_bandwidth=300 * GB,
            source="NVIDIA A100 Tensor Core GPU datasheet, 80GB SXM column (624 TFLOPS "
            "BF16 is with sparsity)",
        ),
        Accelerator(
            key="l4",
            name="L4",
            memory=24 * GB,
            memory_kind="GDDR6",
            bandwidth=300 * GB,
            bf16_flops=121 * TFLOPS,
            fp8_flops=242.5 * TFLOPS,
            link="PCIe Gen4 x16 (64 GB/s in all, 32 GB/s each way)",
            link_bandwidth=32 * GB,
            source="NVIDIA L4 Tensor Core GPU datasheet (242 / 485 TFLOPS BF16 / FP8 are "
            "with sparsity)",
        ),
        Accelerator(
            key="laptop-cpu",
            name="laptop CPU (Intel Core Ultra 7 155H, 32 GB LPDDR5X-7467)",
            memory=32 * GB,
            memory_kind="LPDDR5X",
            bandwidth=120 * GB,
            bf16_flops=1.0 * TFLOPS,
            fp8_flops=None,
            link="none (one machine)",
            link_bandwidth=None,
            source="Intel's product page for the Core Ultra 7 155H: 120 GB/s maximum "
            "memory bandwidth (128-bit LPDDR5X-7467); 32 GB is a common laptop build",
            note="Intel publishes no FLOPs figure: 1 TFLOP/s is our estimate of the fp32 "
            "FMA peak (16 cores x about 3.5 GHz x 16 to 32 FLOPs a cycle with AVX2); "
            "there are no bf16 matrix units, so bf16 runs no faster",
        ),
    )
}

# Bytes per stored value. int4 is the 4 bits alone: real 4-bit formats add a scale
# per group of weights (about 0.25 to 0.5 bits more per weight).
DTYPE_BYTES: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int4": 0.5}

DTYPE_WORDS: dict[str, str] = {
    "fp32": "4 bytes per fp32 value",
    "bf16": "2 bytes per bf16 value",
    "fp16": "2 bytes per fp16 value",
    "fp8": "1 byte per fp8 value",
    "int4": "0.5 bytes per 4-bit weight (scales left out)",
}
