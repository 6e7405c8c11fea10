"""A slow, obvious version of the model: one sequence at a time, no padding, no cache.

Written from the conventions in the prompt, not from the file under test: it reads
the weights `TinyLM.state_dict()` returns and recomputes every step from scratch in
float64, so its greedy tokens are what the batched, cached float32 file must give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

# The configuration the suite builds models with (the file's defaults, spelled out).
CONFIG: dict[str, int | float] = {
    "vocab_size": 64,
    "dim": 32,
    "n_layers": 2,
    "n_heads": 4,
    "hidden_dim": 64,
    "max_seq_len": 64,
    "rope_theta": 10000.0,
    "norm_eps": 1e-5,
    "pad_id": 0,
}


@dataclass
class Oracle:
    weights: dict[str, Tensor]
    n_layers: int
    n_heads: int
    theta: float
    eps: float

    @classmethod
    def of(cls, state: dict[str, Tensor], config: dict[str, int | float]) -> Oracle:
        weights = {name: w.double() for name, w in state.items()}
        return cls(
            weights,
            int(config["n_layers"]),
            int(config["n_heads"]),
            float(config["rope_theta"]),
            float(config["norm_eps"]),
        )

    def norm(self, x: Tensor, name: str) -> Tensor:
        rms = torch.sqrt((x * x).mean(dim=-1, keepdim=True) + self.eps)
        return x / rms * self.weights[name]

    def rope(self, x: Tensor) -> Tensor:
        """x [heads, T, hd]: pair feature j with j + hd/2, rotate by t * theta^(-2j/hd)."""
        t, hd = x.shape[1], x.shape[2]
        half = hd // 2
        freq = torch.tensor([self.theta ** (-2 * j / hd) for j in range(half)], dtype=torch.float64)
        angle = torch.arange(t, dtype=torch.float64)[:, None] * freq[None, :]  # [T, half]
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * angle.cos() - b * angle.sin(), b * angle.cos() + a * angle.sin()], -1)

    def logits(self, tokens: list[int]) -> Tensor:
        """Logits [T, V] float64 of every position of one sequence."""
        w, t = self.weights, len(tokens)
        x = w["embed"][torch.tensor(tokens)]
        future = torch.ones(t, t, dtype=torch.bool).triu(1)
        for i in range(self.n_layers):
            p = f"layers.{i}."
            h = self.norm(x, p + "attn_norm")
            q, k, v = (
                (h @ w[p + n]).view(t, self.n_heads, -1).transpose(0, 1) for n in ("wq", "wk", "wv")
            )
            q, k = self.rope(q), self.rope(k)
            scores = (q @ k.transpose(1, 2)) / math.sqrt(q.shape[-1])  # [heads, T, T]
            att = torch.softmax(scores.masked_fill(future, -math.inf), dim=-1) @ v
            x = x + att.transpose(0, 1).reshape(t, -1) @ w[p + "wo"]
            h = self.norm(x, p + "mlp_norm")
            gate = h @ w[p + "w_gate"]
            x = x + (gate * torch.sigmoid(gate) * (h @ w[p + "w_up"])) @ w[p + "w_down"]
        return self.norm(x, "norm") @ w["lm_head"]

    def greedy(
        self, prompt: list[int], max_new_tokens: int, eos_id: int | None = None
    ) -> list[int]:
        """Greedy continuation of one prompt, recomputed from scratch at every step."""
        seq, new = list(prompt), []
        for _ in range(max_new_tokens):
            token = int(self.logits(seq)[-1].argmax())
            new.append(token)
            seq.append(token)
            if token == eos_id:
                break
        return new

    def smallest_margin(self, prompt: list[int], max_new_tokens: int) -> float:
        """The smallest gap between the two best logits along the greedy path."""
        seq, gaps = list(prompt), []
        for _ in range(max_new_tokens):
            top = self.logits(seq)[-1].topk(2).values
            gaps.append(float(top[0] - top[1]))
            seq.append(int(self.logits(seq)[-1].argmax()))
        return min(gaps)


def build(sol: Any, seed: int = 0) -> tuple[Any, Oracle]:
    """The solution's TinyLM (it stays in the worker) and the oracle over its weights."""
    model = sol.TinyLM(sol.TinyConfig(**CONFIG), seed)
    return model, Oracle.of(model.state_dict(), CONFIG)


def prompts(seed: int, lengths: list[int]) -> list[list[int]]:
    """Prompts of the given lengths, tokens drawn from 1 .. vocab - 1 (pad id 0 left out)."""
    g = torch.Generator().manual_seed(seed)
    vocab = int(CONFIG["vocab_size"])
    return [torch.randint(1, vocab, (n,), generator=g).tolist() for n in lengths]


def one_by_one(sol: Any, model: Any, batch: list[list[int]], **kwargs: Any) -> list[list[int]]:
    """generate for each prompt alone, in a batch of one."""
    return [sol.generate(model, [p], **kwargs)[0] for p in batch]
