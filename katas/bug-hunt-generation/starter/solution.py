"""Batched generation with a tiny Llama-style decoder: left padding, a KV cache, EOS.

The serving path of a small decoder-only transformer, end to end: a ragged batch of
prompts is left-padded into one tensor, prefilled in one forward pass that fills a
preallocated per-layer KV cache, then decoded one token per step, greedily or by
seeded sampling, until every row has emitted EOS or `max_new_tokens` is reached.

Layouts: tokens [batch, seq]; activations [batch, seq, dim]; queries, keys and values
[batch, seq, heads, head_dim]; the cache [layers, batch, columns, heads, head_dim].
A weight W multiplies on the right: y = x @ W, W is [in, out].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TinyConfig:
    vocab_size: int = 64
    dim: int = 32
    n_layers: int = 2
    n_heads: int = 4
    hidden_dim: int = 64
    max_seq_len: int = 64
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    pad_id: int = 0

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


# -- building blocks ---------------------------------------------------------------


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """x / rms(x) * weight, the mean of squares taken over the feature dimension."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def rope_tables(head_dim: int, max_seq_len: int, theta: float) -> tuple[Tensor, Tensor]:
    """cos and sin [max_seq_len, head_dim] of the angle p * theta^(-2i / head_dim).

    Half-split layout: feature i is paired with feature i + head_dim / 2, so both
    halves of a row repeat the same head_dim / 2 angles."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float64), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)  # [max_seq_len, head_dim]
    return angles.cos().float(), angles.sin().float()


def rotate_half(x: Tensor) -> Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, positions: Tensor) -> Tensor:
    """Rotate x [B, T, H, hd] by the angles of each token's own position [B, T]."""
    c = cos[positions][:, :, None, :]  # [B, T, 1, hd]
    s = sin[positions][:, :, None, :]
    return x * c + rotate_half(x) * s


def causal_mask(start: int, length: int, n_keys: int) -> Tensor:
    """Bool [length, n_keys]: query t, at cache column start + t, may read key column s
    iff s <= start + t."""
    future = torch.ones(length, n_keys, dtype=torch.bool).triu(diagonal=start + 1)
    return ~future


@dataclass
class Layer:
    attn_norm: Tensor  # [dim]
    wq: Tensor  # [dim, dim]
    wk: Tensor  # [dim, dim]
    wv: Tensor  # [dim, dim]
    wo: Tensor  # [dim, dim]
    mlp_norm: Tensor  # [dim]
    w_gate: Tensor  # [dim, hidden_dim]
    w_up: Tensor  # [dim, hidden_dim]
    w_down: Tensor  # [hidden_dim, dim]


class KVCache:
    """Keys and values of every layer, preallocated: [layers, batch, columns, heads, hd].

    Column c of a row holds the token at column c of the left-padded batch; the
    caller's key mask says which columns hold real tokens."""

    def __init__(self, config: TinyConfig, batch: int, columns: int) -> None:
        shape = (config.n_layers, batch, columns, config.n_heads, config.head_dim)
        self.k = torch.zeros(shape)
        self.v = torch.zeros(shape)

    def write(self, layer: int, start: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store k, v [B, T, H, hd] at columns start .. start + T - 1; return the layer's
        keys and values of columns 0 .. start + T - 1 (views of the cache)."""
        end = start + k.shape[1]
        self.k[layer, :, start:end] = k
        self.v[layer, :, start:end] = v
        return self.k[layer, :, :end], self.v[layer, :, :end]


# -- the model ---------------------------------------------------------------------


class TinyLM:
    """Pre-norm decoder: RMSNorm, attention with RoPE, RMSNorm, SwiGLU MLP; weights
    drawn from `seed` alone, so two models built with the same seed are equal."""

    def __init__(self, config: TinyConfig, seed: int = 0) -> None:
        self.config = config
        g = torch.Generator().manual_seed(seed)
        d, h = config.dim, config.hidden_dim

        def draw(*shape: int, scale: float = 1.0) -> Tensor:
            return torch.randn(*shape, generator=g) * scale / math.sqrt(shape[0])

        def gain() -> Tensor:
            return 1.0 + 0.1 * torch.randn(d, generator=g)

        self.embed = torch.randn(config.vocab_size, d, generator=g)
        self.layers = [
            Layer(
                attn_norm=gain(),
                wq=draw(d, d, scale=2.0),
                wk=draw(d, d, scale=2.0),
                wv=draw(d, d),
                wo=draw(d, d),
                mlp_norm=gain(),
                w_gate=draw(d, h),
                w_up=draw(d, h),
                w_down=draw(h, d),
            )
            for _ in range(config.n_layers)
        ]
        self.norm = gain()
        self.lm_head = draw(d, config.vocab_size, scale=4.0)
        self.cos, self.sin = rope_tables(config.head_dim, config.max_seq_len, config.rope_theta)

    def state_dict(self) -> dict[str, Tensor]:
        """Every weight by name: embed, layers.{i}.{field of Layer}, norm, lm_head."""
        out = {"embed": self.embed, "norm": self.norm, "lm_head": self.lm_head}
        for i, layer in enumerate(self.layers):
            for name, value in vars(layer).items():
                out[f"layers.{i}.{name}"] = value
        return {name: value.clone() for name, value in out.items()}

    def attention(
        self, i: int, x: Tensor, positions: Tensor, key_mask: Tensor, cache: KVCache, start: int
    ) -> Tensor:
        layer, (b, t, _) = self.layers[i], x.shape
        heads, hd = self.config.n_heads, self.config.head_dim
        q = (x @ layer.wq).view(b, t, heads, hd)
        k = (x @ layer.wk).view(b, t, heads, hd)
        v = (x @ layer.wv).view(b, t, heads, hd)
        q = apply_rope(q, self.cos, self.sin, positions)
        k = apply_rope(k, self.cos, self.sin, positions)
        keys, values = cache.write(i, start, k, v)  # [B, S, H, hd], S = start + t
        scores = torch.einsum("bthd,bshd->bhts", q, keys) / math.sqrt(hd)
        allowed = key_mask[:, None, None, : start + t]  # [B, 1, 1, S]: real tokens only
        if t > 1:  # prefill: hide each query's future (a decode query is the newest column)
            allowed = allowed & causal_mask(start, t, start + t)
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1)
        out = torch.einsum("bhts,bshd->bthd", probs, values).reshape(b, t, -1)
        return out @ layer.wo

    def forward(
        self, tokens: Tensor, positions: Tensor, key_mask: Tensor, cache: KVCache, start: int
    ) -> Tensor:
        """Logits [B, T, V] of tokens [B, T] at cache columns start .. start + T - 1.

        positions [B, T]: each token's position in its own sequence (RoPE);
        key_mask bool [B, >= start + T]: True where a cache column holds a real token."""
        eps = self.config.norm_eps
        x = self.embed[tokens]
        for i, layer in enumerate(self.layers):
            x = x + self.attention(
                i, rms_norm(x, layer.attn_norm, eps), positions, key_mask, cache, start
            )
            y = rms_norm(x, layer.mlp_norm, eps)
            x = x + (torch.nn.functional.silu(y @ layer.w_gate) * (y @ layer.w_up)) @ layer.w_down
        return rms_norm(x, self.norm, eps) @ self.lm_head


# -- batching and generation -------------------------------------------------------


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """tokens int64 [B, T] and mask bool [B, T] (True = real token), T the longest
    prompt: each prompt is right-aligned, its padding on the left."""
    width = max(len(p) for p in prompts)
    tokens = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(prompts), width, dtype=torch.bool)
    for row, prompt in enumerate(prompts):
        tokens[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt) :] = True
    return tokens, mask


def prefill(model: TinyLM, tokens: Tensor, mask: Tensor, cache: KVCache) -> Tensor:
    """Run a left-padded batch through the model from column 0; fills the cache and
    returns the logits [B, V] of the token that follows each row."""
    positions = (mask.long().cumsum(dim=-1) - 1).clamp(min=0)  # padding counts no position
    logits = model.forward(tokens, positions, mask, cache, 0)
    return logits[:, -1]  # the last column is every row's last real token


def logits_for(model: TinyLM, prompts: list[list[int]]) -> Tensor:
    """Next-token logits [B, V] float32 of each prompt, batched with left padding."""
    tokens, mask = left_pad(prompts, model.config.pad_id)
    return prefill(model, tokens, mask, KVCache(model.config, *tokens.shape))


def choose(logits: Tensor, temperature: float, generator: torch.Generator) -> Tensor:
    """One token per row of logits [B, V]: the argmax at temperature 0, else a draw
    from softmax(logits / temperature) with the generator."""
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def generate(
    model: TinyLM,
    prompts: list[list[int]],
    max_new_tokens: int,
    eos_id: int | None = None,
    temperature: float = 0.0,
    seed: int = 0,
    use_cache: bool = True,
) -> list[list[int]]:
    """The new tokens of each prompt, in order: at most max_new_tokens, ending with
    eos_id when the row emitted it. use_cache=False recomputes the whole sequence at
    every step instead of decoding from the cache (slow; the same tokens)."""
    cfg = model.config
    if not prompts:
        return []
    if any(not p for p in prompts):
        raise ValueError("every prompt needs at least one token")
    if max_new_tokens < 0 or temperature < 0:
        raise ValueError("max_new_tokens and temperature must be >= 0")
    tokens, mask = left_pad(prompts, cfg.pad_id)
    batch, width = tokens.shape
    if width + max_new_tokens > cfg.max_seq_len:
        raise ValueError(
            f"the longest prompt ({width}) plus {max_new_tokens} new tokens exceeds "
            f"max_seq_len={cfg.max_seq_len}"
        )

    generator = torch.Generator().manual_seed(seed)
    cache = KVCache(cfg, batch, width + max_new_tokens)
    key_mask = torch.zeros(batch, width + max_new_tokens, dtype=torch.bool)
    key_mask[:, :width] = mask
    lengths = mask.sum(dim=-1)  # [B] real prompt tokens of each row
    out = torch.full((batch, max_new_tokens), cfg.pad_id, dtype=torch.long)
    n_new = torch.zeros(batch, dtype=torch.long)  # tokens each row returns
    finished = torch.zeros(batch, dtype=torch.bool)
    logits = prefill(model, tokens, mask, cache)

    for step in range(max_new_tokens):
        next_token = choose(logits, temperature, generator)
        next_token = torch.where(finished, cfg.pad_id, next_token)  # finished rows feed padding
        out[:, step] = next_token
        n_new += (~finished).long()  # a row's EOS is still its own token
        if eos_id is not None:
            finished |= next_token == eos_id
        if bool(finished.all()) or step + 1 == max_new_tokens:
            break
        if use_cache:
            col = width + step  # the cache column the chosen token goes to
            key_mask[:, col] = True
            pos = lengths.new_full((batch, 1), col)  # [B, 1]: its position in its own sequence
            logits = model.forward(next_token[:, None], pos, key_mask, cache, col)[:, -1]
        else:
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)
            mask = torch.cat([mask, torch.ones(batch, 1, dtype=torch.bool)], dim=1)
            logits = prefill(model, tokens, mask, KVCache(cfg, batch, tokens.shape[1]))

    return [out[row, :n].tolist() for row, n in enumerate(n_new.tolist())]
