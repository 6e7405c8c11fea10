"""Hugging Face Mistral / Mixtral checkpoints: config.json, safetensors, key names.

A checkpoint directory is what `save_pretrained` writes: `config.json` plus one or
more `*.safetensors` files. This module turns it into what `reference.model` builds
from: a `ModelArgs` and a state dict under the model's own names.

Key names. transformers 5 keeps Mixtral's experts fused in memory and has used two
layouts on disk, and both must load (E experts, I = intermediate_size, H = hidden):

    fused (transformers 5 state_dict)         per expert (checkpoints on disk)
    mlp.gate.weight             [E, H]        block_sparse_moe.gate.weight       [E, H]
    mlp.experts.gate_up_proj    [E, 2I, H]    block_sparse_moe.experts.e.w1.weight [I, H]
                                              block_sparse_moe.experts.e.w3.weight [I, H]
    mlp.experts.down_proj       [E, H, I]     block_sparse_moe.experts.e.w2.weight [H, I]

`gate_up_proj[e]` is w1 (the gate) stacked over w3 (the up projection): rows 0..I-1
are w1, rows I..2I-1 are w3. Both become `w1, w3 [E, I, H]` and `w2 [E, H, I]`, the
layout of `reference.moe.moe_forward`. Each layer may use either layout.

The model fuses what one matmul can do: q, k and v projections become one `wqkv`
(columns q, then k, then v) and the dense MLP's gate and up projections one `w13`.

Layout. Hugging Face stores a projection as `[out, in]` (nn.Linear's `x @ W.T`); the
model stores its dense projections and LM head transposed, `[in, out]`, and computes
`x @ w`. A decode step multiplies one row vector per sequence by each matrix, and on
the CPU that product runs about twice as fast against a contiguous `[in, out]` matrix
as against the transposed view that `F.linear` uses (measured side by side in
docs/benchmarks.md). Experts keep the layout of `reference.moe.moe_forward`.

Strictness: every key the config implies must be present with its exact shape, and
every key present must be used. Anything else is a `CheckpointError` naming the keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "CheckpointError",
    "ModelArgs",
    "convert_state_dict",
    "model_args",
    "read_config",
    "read_safetensors",
]


class CheckpointError(ValueError):
    """A config or state dict that does not describe the model it claims to."""


@dataclass(frozen=True)
class ModelArgs:
    """The architecture, in the model's terms. `n_experts == 0` means a dense MLP."""

    dim: int  # hidden_size
    hidden_dim: int  # intermediate_size (per expert for Mixtral)
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    norm_eps: float
    rope_theta: float
    sliding_window: int | None  # None: plain causal attention
    tie_embeddings: bool = False
    n_experts: int = 0
    experts_per_tok: int = 2
    eos_ids: tuple[int, ...] = ()

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0


# Per-architecture defaults for keys a config.json may leave out (transformers' own).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "mistral": {"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "sliding_window": 4096},
    "mixtral": {"rms_norm_eps": 1e-5, "rope_theta": 1e6, "sliding_window": None},
}
_REQUIRED = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "vocab_size",
)


def read_config(path: str | Path) -> ModelArgs:
    """`ModelArgs` from a checkpoint directory's config.json (or the file itself)."""
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{file}: no config.json") from None
    return model_args(data)


def model_args(config: Mapping[str, Any]) -> ModelArgs:
    """`ModelArgs` from a MistralConfig / MixtralConfig dict (`config.to_dict()` works)."""
    kind = config.get("model_type") or ("mixtral" if "num_local_experts" in config else "mistral")
    if kind not in _DEFAULTS:
        raise CheckpointError(f"model_type {kind!r} is not supported (mistral or mixtral)")
    missing = [key for key in _REQUIRED if config.get(key) is None]
    if missing:
        raise CheckpointError(f"config has no {', '.join(missing)}")
    if config.get("hidden_act", "silu") != "silu":
        raise CheckpointError(f"hidden_act {config['hidden_act']!r} is not supported (silu)")

    def get(key: str) -> Any:
        return config[key] if key in config else _DEFAULTS[kind][key]

    n_heads = int(config["num_attention_heads"])
    dim = int(config["hidden_size"])
    eos = config.get("eos_token_id")
    eos_ids = () if eos is None else (eos,) if isinstance(eos, int) else tuple(eos)
    window = get("sliding_window")
    return ModelArgs(
        dim=dim,
        hidden_dim=int(config["intermediate_size"]),
        n_layers=int(config["num_hidden_layers"]),
        n_heads=n_heads,
        n_kv_heads=int(config.get("num_key_value_heads") or n_heads),
        head_dim=int(config.get("head_dim") or dim // n_heads),
        vocab_size=int(config["vocab_size"]),
        norm_eps=float(get("rms_norm_eps")),
        rope_theta=_rope_theta(config, float(_DEFAULTS[kind]["rope_theta"])),
        sliding_window=None if window is None else int(window),
        tie_embeddings=bool(config.get("tie_word_embeddings", False)),
        n_experts=int(config.get("num_local_experts", 8)) if kind == "mixtral" else 0,
        experts_per_tok=int(config.get("num_experts_per_tok", 2)),
        eos_ids=tuple(int(i) for i in eos_ids),
    )


def _rope_theta(config: Mapping[str, Any], default: float) -> float:
    """transformers 5 keeps theta in `rope_parameters`; older configs at the top level."""
    params = config.get("rope_parameters") or {}
    rope_type = params.get("rope_type", "default")
    if rope_type != "default" or config.get("rope_scaling"):
        raise CheckpointError(f"RoPE scaling ({rope_type!r}) is not supported: plain RoPE only")
    return float(params.get("rope_theta", config.get("rope_theta", default)))


def read_safetensors(path: str | Path) -> dict[str, Tensor]:
    """Every tensor of every `*.safetensors` file in a directory (shards merged)."""
    from safetensors.torch import load_file

    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{path}: no *.safetensors files")
    state: dict[str, Tensor] = {}
    for file in files:
        shard = load_file(file)
        twice = state.keys() & shard.keys()
        if twice:
            raise CheckpointError(f"{file.name}: key {sorted(twice)[0]!r} is in two shards")
        state.update(shard)
    return state


def convert_state_dict(state: Mapping[str, Tensor], args: ModelArgs) -> dict[str, Tensor]:
    """Hugging Face names -> the model's names, with shapes checked and weights fused.

    Raises `CheckpointError` naming the first missing key (and how many more), or the
    unexpected keys, or a key whose shape is wrong.
    """
    reader = _Reader(state)
    h, hd = args.dim, args.head_dim
    out = {"tok_embeddings": reader.take("model.embed_tokens.weight", (args.vocab_size, h))}
    for i in range(args.n_layers):
        hf, ours = f"model.layers.{i}.", f"layers.{i}."
        attn = hf + "self_attn."
        out[ours + "attention.wqkv"] = _in_out(
            reader.take(attn + "q_proj.weight", (args.n_heads * hd, h)),
            reader.take(attn + "k_proj.weight", (args.n_kv_heads * hd, h)),
            reader.take(attn + "v_proj.weight", (args.n_kv_heads * hd, h)),
        )
        out[ours + "attention.wo"] = _in_out(
            reader.take(attn + "o_proj.weight", (h, args.n_heads * hd))
        )
        out[ours + "attention_norm"] = reader.take(hf + "input_layernorm.weight", (h,))
        out[ours + "ffn_norm"] = reader.take(hf + "post_attention_layernorm.weight", (h,))
        if args.is_moe:
            out.update(_experts(reader, hf, ours + "feed_forward.", args))
        else:
            mlp, i_dim = hf + "mlp.", args.hidden_dim
            out[ours + "feed_forward.w13"] = _in_out(
                reader.take(mlp + "gate_proj.weight", (i_dim, h)),
                reader.take(mlp + "up_proj.weight", (i_dim, h)),
            )
            out[ours + "feed_forward.w2"] = _in_out(
                reader.take(mlp + "down_proj.weight", (h, i_dim))
            )
    out["norm"] = reader.take("model.norm.weight", (h,))
    if args.tie_embeddings:
        # transformers' state_dict() lists the tied head too; a saved file leaves it out.
        reader.take_optional("lm_head.weight")
        out["output"] = _in_out(out["tok_embeddings"])  # a transposed copy: [H, V]
    else:
        out["output"] = _in_out(reader.take("lm_head.weight", (args.vocab_size, h)))
    reader.finish()
    return out


def _in_out(*weights: Tensor) -> Tensor:
    """Hugging Face `[out, in]` projections -> one contiguous `[in, sum(out)]` matrix."""
    return torch.cat(weights).t().contiguous()


def _experts(reader: _Reader, hf: str, ours: str, args: ModelArgs) -> dict[str, Tensor]:
    """One layer's router and experts, from whichever layout the layer uses."""
    e, i_dim, h = args.n_experts, args.hidden_dim, args.dim
    if reader.has_prefix(hf + "block_sparse_moe."):
        moe = hf + "block_sparse_moe."
        per = [f"{moe}experts.{x}." for x in range(e)]
        return {
            ours + "gate": reader.take(moe + "gate.weight", (e, h)),
            ours + "w1": torch.stack([reader.take(p + "w1.weight", (i_dim, h)) for p in per]),
            ours + "w2": torch.stack([reader.take(p + "w2.weight", (h, i_dim)) for p in per]),
            ours + "w3": torch.stack([reader.take(p + "w3.weight", (i_dim, h)) for p in per]),
        }
    gate_up = reader.take(hf + "mlp.experts.gate_up_proj", (e, 2 * i_dim, h))
    return {
        ours + "gate": reader.take(hf + "mlp.gate.weight", (e, h)),
        ours + "w1": gate_up[:, :i_dim].contiguous(),  # [E, I, H]
        ours + "w2": reader.take(hf + "mlp.experts.down_proj", (e, h, i_dim)),
        ours + "w3": gate_up[:, i_dim:].contiguous(),  # [E, I, H]
    }


class _Reader:
    """Takes keys out of a state dict; remembers what was missing and what was never used."""

    def __init__(self, state: Mapping[str, Tensor]) -> None:
        self.state = state
        self.unused = set(state)
        self.missing: list[str] = []

    def take(self, key: str, shape: tuple[int, ...]) -> Tensor:
        tensor = self.state.get(key)
        if tensor is None:
            self.missing.append(key)
            return torch.empty(shape)  # a stand-in, so that every missing key gets listed
        self.unused.discard(key)
        if tuple(tensor.shape) != shape:
            raise CheckpointError(f"key {key!r} has shape {tuple(tensor.shape)}, expected {shape}")
        return tensor

    def take_optional(self, key: str) -> None:
        self.unused.discard(key)

    def has_prefix(self, prefix: str) -> bool:
        return any(key.startswith(prefix) for key in self.state)

    def finish(self) -> None:
        if self.missing:
            raise CheckpointError(f"missing key{_listing(self.missing)}")
        if self.unused:
            raise CheckpointError(f"unexpected key{_listing(sorted(self.unused))}")


def _listing(keys: Iterable[str]) -> str:
    keys = list(keys)
    more = f" (and {len(keys) - 1} more: {', '.join(keys[1:6])}{'...' if len(keys) > 6 else ''})"
    return f" {keys[0]!r}" + (more if len(keys) > 1 else "")
