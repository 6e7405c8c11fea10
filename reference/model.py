"""A Mistral / Mixtral decoder: the model half of the reference inference engine.

    tokens [B, T] -> embedding -> n_layers x block -> RMSNorm -> LM head -> logits [B, T, V]
    block(x) = x + attention(norm(x));  x + ffn(norm(x))

Attention is grouped-query (n_kv_heads <= n_heads) with RoPE and, when the config
has one, a sliding window W: the query at position p attends the keys at p-W+1 .. p.
The feed-forward block is a SwiGLU MLP `w2(silu(w1 x) * w3 x)` (Mistral) or a
mixture of such experts behind a top-k router (Mixtral, `reference.moe.moe_forward`).

Numerics follow transformers' MistralForCausalLM / MixtralForCausalLM: RMSNorm in
float32, RoPE angles in float32, router softmax in float32. Weights are stored fused
where one matmul does the work of several (`wqkv`, `w13`), and dense projections as
`[in, out]`, applied as `x @ w` (faster for decoding; see `reference.loading`).

Two ways to run it:

- `model(tokens)`: a full forward over `[B, T]` with a causal (sliding-window) mask.
- `model(tokens, cache)`: one step of incremental decoding. `cache` is a `KVView`
  that the engine builds for the step (`reference.kv_layout`): it gives the positions of
  the new tokens and, layer by layer, stores their keys and values and returns what
  the queries attend to, with the mask that goes with it. The model itself knows
  nothing about cache layouts (contiguous, rolling buffer, paged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference.attention import attention
from reference.loading import (
    ModelArgs,
    convert_state_dict,
    model_args,
    read_config,
    read_safetensors,
)
from reference.masks import sliding_window_mask
from reference.moe import moe_forward as reference_moe_forward
from reference.quantized import project
from reference.rope import rope_cos_sin

__all__ = ["AttentionFn", "KVView", "ModelArgs", "MoeFn", "Transformer", "from_state_dict", "load"]

# `reference.moe.moe_forward`'s signature: (x, router_weight, w1, w2, w3, k) -> (out, logits)
MoeFn = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, int], tuple[Tensor, Tensor]]


class AttentionFn(Protocol):
    """`reference.attention.attention`: q `[B, T, nh, hd]`, k, v `[B, L, n_kv, hd]`, a
    boolean mask broadcastable to `[B, 1, T, L]` (or None) -> `[B, T, nh, hd]`."""

    def __call__(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: Tensor | None = None,
        *,
        scale: float | None = None,
    ) -> Tensor: ...


class KVView(Protocol):
    """One forward step's access to a KV cache (built by the engine, once per step)."""

    positions: Tensor  # int64 [B, T]: absolute position of each new token, on the model's device
    end: int  # host int: 1 + the largest position in `positions`

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Store the step's k, v `[B, T, n_kv, hd]`; return (keys, values, mask) to attend.

        keys, values `[B, L, n_kv, hd]`; mask bool, broadcastable to `[B, 1, T, L]`
        (True = may attend), or None when every query may attend every key.
        """
        ...


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """`weight * x / sqrt(mean(x^2) + eps)`, normalised in float32 as transformers does.

    A half-precision x is normalised in float32, cast back, then scaled (transformers'
    order); float32 takes the one fused call.
    """
    if x.dtype == torch.float32:
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    return F.rms_norm(x.float(), (x.shape[-1],), eps=eps).type_as(x) * weight


class Attention(nn.Module):
    def __init__(self, args: ModelArgs, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        q_size, kv_size = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
        self.wqkv = nn.Parameter(torch.empty(args.dim, q_size + 2 * kv_size))
        self.wo = nn.Parameter(torch.empty(q_size, args.dim))

    def forward(
        self,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        mask: Tensor | None,
        cache: KVView | None,
        attend: AttentionFn,
    ) -> Tensor:
        """x `[B, T, dim]`; cos, signed sin `[B or 1, T, 1, hd]` broadcast over heads."""
        b, t, _ = x.shape
        nh = self.n_heads
        qkv = project(x, self.wqkv).view(b, t, -1, self.head_dim)  # [B, T, nh + 2 n_kv, hd]
        # RoPE on q and k heads at once (they sit side by side), as `x * cos +
        # rotate_half(x) * sin` with rotate_half(x) = roll(x, hd/2) * [-1.. +1..]: the
        # sign is folded into `sin` (see `Transformer.rope_table`), 4 kernels per layer.
        qk = qkv[:, :, : nh + self.n_kv_heads]
        qk = (qk * cos).add_(qk.roll(self.head_dim // 2, dims=-1).mul_(sin))
        q, k = qk[:, :, :nh], qk[:, :, nh:]  # [B, T, nh, hd], [B, T, n_kv, hd]
        v = qkv[:, :, nh + self.n_kv_heads :]  # [B, T, n_kv, hd]; keys are cached rotated
        if cache is not None:
            k, v, mask = cache.update(self.layer, k, v)  # [B, L, n_kv, hd]
        out = attend(q, k, v, mask)  # [B, T, nh, hd]
        return project(out.reshape(b, t, -1), self.wo)


class FeedForward(nn.Module):
    """SwiGLU: `w2(silu(w1 x) * w3 x)`, with w1 and w3 stacked into one `w13`."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.w13 = nn.Parameter(torch.empty(args.dim, 2 * args.hidden_dim))
        self.w2 = nn.Parameter(torch.empty(args.hidden_dim, args.dim))

    def forward(self, x: Tensor, moe_forward: MoeFn) -> Tensor:
        gate, up = project(x, self.w13).chunk(2, dim=-1)  # [B, T, I] each
        return project(F.silu(gate, inplace=True).mul_(up), self.w2)  # in place: fewer buffers


class MoE(nn.Module):
    """Mixtral's sparse block: a router over `n_experts` SwiGLU experts, top-k of them per token."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        e, i, h = args.n_experts, args.hidden_dim, args.dim
        self.k = args.experts_per_tok
        self.gate = nn.Parameter(torch.empty(e, h))  # router
        self.w1 = nn.Parameter(torch.empty(e, i, h))
        self.w2 = nn.Parameter(torch.empty(e, h, i))
        self.w3 = nn.Parameter(torch.empty(e, i, h))

    def forward(self, x: Tensor, moe_forward: MoeFn) -> Tensor:
        b, t, h = x.shape
        out, _ = moe_forward(x.reshape(b * t, h), self.gate, self.w1, self.w2, self.w3, self.k)
        return out.view(b, t, h)


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs, layer: int) -> None:
        super().__init__()
        self.eps = args.norm_eps
        self.attention_norm = nn.Parameter(torch.empty(args.dim))
        self.attention = Attention(args, layer)
        self.ffn_norm = nn.Parameter(torch.empty(args.dim))
        self.feed_forward: FeedForward | MoE = MoE(args) if args.is_moe else FeedForward(args)

    def forward(
        self,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        mask: Tensor | None,
        cache: KVView | None,
        moe_forward: MoeFn,
        attend: AttentionFn,
    ) -> Tensor:
        a = rms_norm(x, self.attention_norm, self.eps)
        x = x + self.attention(a, cos, sin, mask, cache, attend)
        out: Tensor = x + self.feed_forward(rms_norm(x, self.ffn_norm, self.eps), moe_forward)
        return out


class Transformer(nn.Module):
    """The decoder. Build it with `load(path)` or `from_state_dict(config, state_dict)`."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Parameter(torch.empty(args.vocab_size, args.dim))
        self.layers = nn.ModuleList(TransformerBlock(args, i) for i in range(args.n_layers))
        self.norm = nn.Parameter(torch.empty(args.dim))
        self.output = nn.Parameter(torch.empty(args.dim, args.vocab_size))  # LM head, [in, out]
        self._rope: tuple[Tensor, Tensor] | None = None  # see rope_table

    @property
    def device(self) -> torch.device:
        return self.tok_embeddings.device

    @property
    def dtype(self) -> torch.dtype:
        return self.tok_embeddings.dtype

    def forward(
        self,
        tokens: Tensor,
        cache: KVView | None = None,
        *,
        last: int | Tensor | None = None,
        moe_forward: MoeFn = reference_moe_forward,
        attend: AttentionFn = attention,
    ) -> Tensor:
        """Logits `[B, T, V]` for token ids `[B, T]`, or `[B, 1, V]` at index `last` only.

        Without a cache the tokens sit at positions 0..T-1 and attend causally within
        the window; with one, at `cache.positions`, attending what the cache returns.
        `last`: an index into T (e.g. -1), or one per row (int64 `[B]`) when rows end at
        different places. `moe_forward` and `attend` replace the MoE and attention kernels
        (with the reference's signatures).
        """
        b, t = tokens.shape
        mask: Tensor | None = None
        if cache is None:
            cos, sin = self.rope_table(t)
            cos, sin = cos[:t, None], sin[:t, None]  # [T, 1, hd]
            mask = sliding_window_mask(t, t, self.args.sliding_window, device=tokens.device)
        else:
            cos, sin = self.rope_table(cache.end)
            cos, sin = cos[cache.positions, None], sin[cache.positions, None]  # [B, T, 1, hd]
        h = F.embedding(tokens, self.tok_embeddings)  # [B, T, dim]
        for layer in self.layers:
            h = layer(h, cos, sin, mask, cache, moe_forward, attend)
        if isinstance(last, int):
            h = h[:, last, None]  # [B, 1, dim]
        elif last is not None:
            h = h[torch.arange(b, device=h.device), last, None]  # [B, 1, dim]
        out: Tensor = project(rms_norm(h, self.norm, self.args.norm_eps), self.output)
        return out

    def rope_table(self, n_positions: int) -> tuple[Tensor, Tensor]:
        """cos and signed sin `[>= n_positions, head_dim]` in the model's dtype.

        Signed sin is `sin` with its first half negated: `roll(x, hd/2) * signed_sin`
        equals `rotate_half(x) * sin` exactly. Computed once (`reference.rope`) and grown
        by doubling, so that a decode step looks its positions up.
        """
        table = self._rope
        if (
            table is None
            or table[0].shape[0] < n_positions
            or (table[0].device, table[0].dtype) != (self.device, self.dtype)
        ):
            size = max(n_positions, 2 * table[0].shape[0] if table is not None else 256)
            positions = torch.arange(size, device=self.device)
            cos, sin = rope_cos_sin(positions, self.args.head_dim, self.args.rope_theta, self.dtype)
            sin[:, : self.args.head_dim // 2].neg_()
            table = self._rope = cos, sin
        return table


def from_state_dict(
    config: ModelArgs | Mapping[str, Any],
    state_dict: Mapping[str, Tensor],
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Transformer:
    """A model from a Hugging Face config (dict or `ModelArgs`) and state dict.

    Accepts transformers 5's fused expert tensors and the per-expert names (see
    `reference.loading`); a missing or unexpected key raises `CheckpointError`.
    """
    args = config if isinstance(config, ModelArgs) else model_args(config)
    weights = convert_state_dict(state_dict, args)
    with torch.device("meta"):
        model = Transformer(args)  # no memory until the real weights are assigned
    weights = {k: w.to(device=device, dtype=dtype) for k, w in weights.items()}
    model.load_state_dict(weights, strict=True, assign=True)
    return model.requires_grad_(False).eval()


def load(
    path: str | Path,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Transformer:
    """The model in a `save_pretrained` directory (config.json + *.safetensors).

    Weights keep the checkpoint's dtype unless `dtype` is given; `device` defaults to
    the CPU.
    """
    return from_state_dict(read_config(path), read_safetensors(path), dtype=dtype, device=device)
