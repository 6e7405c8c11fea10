"""reference.moe.moe_forward against transformers' Mixtral sparse MoE block, side by side.

Both sides get the same 512 tokens and the same weights: the block is built from a
MixtralConfig with random weights, and its fused `gate_up_proj` [E, 2I, H] is split
into our w1 = rows :I and w3 = rows I: (transformers computes `silu(gate) * up` with
gate first). The block runs its default ("eager") experts loop; outputs are checked
to agree before anything is timed. `grader.judge.timing.compare` interleaves the two in
ABBA rounds; the speed-up is transformers' time over ours.

Where the time goes: on a CPU both sides spend most of their time in the same expert
matrix products (the profiler puts aten::mm at 86-90% on one thread), so the gap is
only the glue around them (one sort instead of a one-hot mask and a nonzero per
expert, one gather and one scatter-add instead of one each per expert). On a GPU the
glue is the cost: transformers launches about a dozen small kernels and waits on the
host twice per expert, the reference synchronises once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.moe import moe_forward

N_TOKENS = 512
N_EXPERTS = 8
TOP_K = 2


@dataclass(frozen=True)
class Config:
    hidden: int
    inter: int
    dtype: torch.dtype

    @property
    def label(self) -> str:
        return f"H={self.hidden} I={self.inter} {str(self.dtype).removeprefix('torch.')}"


CPU_CONFIGS = [Config(512, 1792, torch.float32), Config(1024, 2048, torch.float32)]
CUDA_CONFIGS = [
    Config(1024, 3584, torch.bfloat16),
    Config(512, 1792, torch.float32),
    Config(1024, 2048, torch.float32),
]


def _block_and_weights(
    cfg: Config, device: str
) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], torch.Tensor]:
    from transformers import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    config = MixtralConfig(
        hidden_size=cfg.hidden,
        intermediate_size=cfg.inter,
        num_local_experts=N_EXPERTS,
        num_experts_per_tok=TOP_K,
    )
    config._experts_implementation = "eager"
    torch.manual_seed(0)
    block = MixtralSparseMoeBlock(config).eval()  # type: ignore[no-untyped-call]
    with torch.no_grad():
        block.gate.weight.normal_(0, cfg.hidden**-0.5)
        block.experts.gate_up_proj.normal_(0, cfg.hidden**-0.5)
        block.experts.down_proj.normal_(0, cfg.inter**-0.5)
    block = block.to(device=device, dtype=cfg.dtype)
    gate_up = block.experts.gate_up_proj.detach()  # [E, 2I, H]: gate rows, then up rows
    weights = (
        block.gate.weight.detach(),  # router [E, H]
        gate_up[:, : cfg.inter].contiguous(),  # w1 [E, I, H]
        block.experts.down_proj.detach(),  # w2 [E, H, I]
        gate_up[:, cfg.inter :].contiguous(),  # w3 [E, I, H]
    )
    x = torch.randn(N_TOKENS, cfg.hidden, generator=torch.Generator().manual_seed(1))
    return block, weights, x.to(device=device, dtype=cfg.dtype)


def _measure(cfg: Config, device: str) -> tuple[float, float, float, float]:
    """(reference s, transformers s, speed-up, max abs difference of the outputs)."""
    block, (router, w1, w2, w3), x = _block_and_weights(cfg, device)

    def ours() -> object:
        return moe_forward(x, router, w1, w2, w3, TOP_K)

    def theirs() -> object:
        return block(x[None])

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    with torch.inference_mode():
        diff = float((moe_forward(x, router, w1, w2, w3, TOP_K)[0] - block(x[None])[0]).abs().max())
        result = compare(ours, theirs, sync=sync, max_s=8.0)
    return result.a_s, result.b_s, 1 / result.ratio, diff


def run(device: str) -> Section:
    section = Section(
        name="moe",
        title=f"MoE forward on {device}: reference vs transformers MixtralSparseMoeBlock "
        f"({N_TOKENS} tokens, {N_EXPERTS} experts, top-{TOP_K})",
        headers=["config", "reference", "transformers", "speed-up", "max |diff|"],
    )
    for cfg in CUDA_CONFIGS if device == "cuda" else CPU_CONFIGS:
        ref_s, hf_s, speedup, diff = _measure(cfg, device)
        section.add(cfg.label, fmt_s(ref_s), fmt_s(hf_s), fmt_ratio(speedup), f"{diff:.1e}")
    section.notes.append(
        "Speed-up is transformers' time over the reference's, the median of paired "
        "ratios from interleaved rounds. The block runs its default eager experts loop. "
        "On a CPU both sides are bound by the same expert matrix products, so the "
        "speed-up there measures only the dispatch glue; on a GPU the glue dominates."
    )
    return section
