"""reference.rope_decode against transformers: RoPE and one decode step of GQA attention.

- RoPE, half layout: against Mistral's rotary embedding (cos and sin from
  MistralRotaryEmbedding, then `x * cos + rotate_half(x) * sin`, what its
  apply_rotary_pos_emb does to one tensor); interleaved layout: against Cohere's, the
  transformers model that pairs (x[2i], x[2i+1]). Both sides compute their angles.
- Decode attention, one query per sequence against a ragged float32 cache (Mistral 7B's
  32 query heads over 8 kv heads of 128): against transformers' eager attention (which
  repeats K and V per query head) and its SDPA attention, both given the padding mask
  ready-made, where the reference builds its mask from the lengths.

Ratios are the peer's time over the reference's (above 1: the reference is faster). The
largest single allocation of each attention, from torch's profiler, is in the notes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor
from torch.profiler import ProfilerActivity, profile
from transformers import CohereConfig, MistralConfig
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.models.cohere.modeling_cohere import CohereRotaryEmbedding
from transformers.models.cohere.modeling_cohere import rotate_half as cohere_rotate_untyped
from transformers.models.mistral.modeling_mistral import (
    MistralRotaryEmbedding,
    eager_attention_forward,
)
from transformers.models.mistral.modeling_mistral import rotate_half as mistral_rotate_untyped

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.rope_decode import apply_rope_half, apply_rope_interleaved, decode_attention

N_HEADS, N_KV_HEADS, HEAD_DIM, BASE = 32, 8, 128, 1e6
PREFILL = 1024  # tokens of one sequence rotated at once
BATCH, MAX_LEN = 4, 4096  # the decode step's batch and cache

# transformers' functions carry no annotations.
mistral_rotate = cast(Callable[[Tensor], Tensor], mistral_rotate_untyped)
cohere_rotate = cast(Callable[[Tensor], Tensor], cohere_rotate_untyped)
Attention = Callable[..., tuple[Tensor, Tensor | None]]


class _Module(torch.nn.Module):
    """What transformers' attention functions read from the attention module."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.num_key_value_groups = group
        self.is_causal = False
        self.training = False


def rope_peers(device: str) -> tuple[Callable[..., Tensor], Callable[..., Tensor]]:
    """transformers' half (Mistral) and interleaved (Cohere) rotations of x [b, s, h, d]."""
    mistral = MistralRotaryEmbedding(
        MistralConfig(
            hidden_size=N_HEADS * HEAD_DIM,
            num_attention_heads=N_HEADS,
            num_key_value_heads=N_KV_HEADS,
            head_dim=HEAD_DIM,
            rope_parameters={"rope_type": "default", "rope_theta": BASE},
        )
    ).to(device)
    cohere = CohereRotaryEmbedding(
        CohereConfig(
            hidden_size=N_HEADS * HEAD_DIM,
            num_attention_heads=N_HEADS,
            rope_parameters={"rope_type": "default", "rope_theta": BASE},
        )
    ).to(device)

    def half(x: Tensor, positions: Tensor) -> Tensor:
        cos, sin = cast(tuple[Tensor, Tensor], mistral(x, positions))
        return x * cos[:, :, None] + mistral_rotate(x) * sin[:, :, None]

    def interleaved(x: Tensor, positions: Tensor) -> Tensor:
        cos, sin = cast(tuple[Tensor, Tensor], cohere(x, positions))
        return x * cos[:, :, None] + cohere_rotate(x) * sin[:, :, None]

    return half, interleaved


def largest_allocation(fn: Callable[[], object]) -> int:
    """Bytes of the largest single CPU allocation `fn` makes, from torch's profiler."""
    fn()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return max((e.cpu_memory_usage for e in prof.events()), default=0)


def run(device: str) -> Section:
    section = Section(
        name="rope_decode",
        title=f"RoPE and a GQA decode step: reference vs transformers ({device})",
        headers=["operation", "reference", "transformers", "transformers / reference"],
    )
    g = torch.Generator().manual_seed(0)
    half_peer, interleaved_peer = rope_peers(device)
    prefill = torch.randn(1, PREFILL, N_HEADS, HEAD_DIM, generator=g).to(device)
    prefill_pos = torch.arange(PREFILL, device=device)[None]
    step = torch.randn(BATCH, 1, N_HEADS, HEAD_DIM, generator=g).to(device)
    lengths = torch.tensor([4000, 3000, 2000, 1000], device=device)
    step_pos = lengths[:, None]

    k = torch.randn(BATCH, N_KV_HEADS, MAX_LEN, HEAD_DIM, generator=g).to(device)
    v = torch.randn(BATCH, N_KV_HEADS, MAX_LEN, HEAD_DIM, generator=g).to(device)
    q = torch.randn(BATCH, N_HEADS, HEAD_DIM, generator=g).to(device)
    valid = torch.arange(MAX_LEN, device=device)[None] < lengths[:, None]
    mask = torch.zeros(valid.shape, device=device).masked_fill(~valid, float("-inf"))
    mask = mask[:, None, None]  # [batch, 1, 1, max_len], additive
    module = _Module(N_HEADS // N_KV_HEADS)
    scaling = HEAD_DIM**-0.5

    def peer_attention(fn: Attention) -> Callable[[], object]:
        return lambda: fn(module, q[:, :, None], k, v, mask, scaling=scaling)

    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (f"RoPE half, prefill [1, {PREFILL}, {N_HEADS}, {HEAD_DIM}]",
         lambda: apply_rope_half(prefill, 0, BASE), lambda: half_peer(prefill, prefill_pos)),
        (f"RoPE interleaved, prefill [1, {PREFILL}, {N_HEADS}, {HEAD_DIM}]",
         lambda: apply_rope_interleaved(prefill, 0, BASE),
         lambda: interleaved_peer(prefill, prefill_pos)),
        (f"RoPE half, decode [{BATCH}, 1, {N_HEADS}, {HEAD_DIM}] at ragged positions",
         lambda: apply_rope_half(step, lengths, BASE), lambda: half_peer(step, step_pos)),
        (f"decode attention vs eager (repeat_kv), cache [{BATCH}, {N_KV_HEADS}, {MAX_LEN}, "
         f"{HEAD_DIM}]", lambda: decode_attention(q, k, v, lengths),
         peer_attention(eager_attention_forward)),
        (f"decode attention vs SDPA, cache [{BATCH}, {N_KV_HEADS}, {MAX_LEN}, {HEAD_DIM}]",
         lambda: decode_attention(q, k, v, lengths), peer_attention(sdpa_attention_forward)),
    ]  # fmt: skip
    for name, ours, peer in rows:
        result = compare(peer, ours)
        section.add(name, fmt_s(result.b_s), fmt_s(result.a_s), fmt_ratio(result.ratio))
    if device == "cpu":
        mib = 2**20
        ours_peak = largest_allocation(lambda: decode_attention(q, k, v, lengths)) / mib
        eager_peak = largest_allocation(peer_attention(eager_attention_forward)) / mib
        sdpa_peak = largest_allocation(peer_attention(sdpa_attention_forward)) / mib
        section.notes.append(
            f"Largest single allocation of a decode step (the cache is {k.nbytes // mib} MiB "
            f"per tensor): reference {ours_peak:.1f} MiB (its scores), eager "
            f"{eager_peak:.1f} MiB (K repeated per query head), SDPA {sdpa_peak:.1f} MiB."
        )
    section.notes.append(
        "The reference computes RoPE in float32 from positions each call and reads the "
        "cache in place by grouping the query heads under their kv head; transformers' "
        "eager attention copies K and V once per query head before its matmuls."
    )
    return section
