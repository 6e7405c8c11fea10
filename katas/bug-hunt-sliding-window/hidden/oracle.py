"""Slow, obvious sliding-window attention over a whole sequence, with no cache.

Written from the kata's conventions, not from the file under test: the weights are
read back from the candidate's layer (`wq`, `wk`, `wv`, `wo`, used as `x @ w.T`),
RoPE is `reference.rope` (rotate-half, absolute positions from 0), and every query
and head is attended by a hand loop over the keys its window allows.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from reference.rope import apply_rope, rope_cos_sin

SMALL = {
    "dim": 16,
    "n_heads": 4,
    "n_kv_heads": 2,
    "head_dim": 4,
    "window": 4,
    "rope_theta": 10000.0,
    "max_positions": 256,
}


def config(sol: Any, **changes: Any) -> Any:
    """An AttentionConfig built in the solution's process: SMALL with `changes`."""
    return sol.AttentionConfig(**{**SMALL, **changes})


def layer(sol: Any, seed: int = 0, **changes: Any) -> tuple[Any, dict[str, Any]]:
    """A fresh layer in the solution's process and the settings it was built with."""
    settings = {**SMALL, **changes}
    return sol.SlidingWindowAttention(config(sol, **changes), seed), settings


def weights(attn: Any) -> dict[str, torch.Tensor]:
    return {name: getattr(attn, name) for name in ("wq", "wk", "wv", "wo")}


def randn(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


def window_allows(i: int, j: int, window: int) -> bool:
    """Query at absolute position i may attend key at absolute position j."""
    return i - window < j <= i


def full_attention(x: torch.Tensor, w: dict[str, torch.Tensor], s: dict[str, Any]) -> torch.Tensor:
    """[batch, T, dim] -> [batch, T, dim]: every position attends its window, no cache."""
    b, n, _ = x.shape
    h, kvh, hd, window = s["n_heads"], s["n_kv_heads"], s["head_dim"], s["window"]
    x64 = x.double()
    q = (x64 @ w["wq"].double().T).view(b, n, h, hd)
    k = (x64 @ w["wk"].double().T).view(b, n, kvh, hd)
    v = (x64 @ w["wv"].double().T).view(b, n, kvh, hd)
    cos, sin = rope_cos_sin(torch.arange(n), hd, s["rope_theta"], dtype=torch.float64)
    q, k = apply_rope(q, k, cos, sin)
    group = h // kvh
    out = torch.zeros(b, n, h, hd, dtype=torch.float64)
    for bi in range(b):
        for head in range(h):
            kv = head // group
            for i in range(n):
                keys = [j for j in range(n) if window_allows(i, j, window)]
                scores = torch.stack([q[bi, i, head] @ k[bi, j, kv] / math.sqrt(hd) for j in keys])
                p = torch.softmax(scores, dim=0)
                out[bi, i, head] = sum(
                    (p[a] * v[bi, j, kv] for a, j in enumerate(keys)),
                    torch.zeros(hd, dtype=torch.float64),
                )
    return (out.reshape(b, n, h * hd) @ w["wo"].double().T).float()


def run(attn: Any, x: torch.Tensor, prompt: int, chunk: int | None = None) -> torch.Tensor:
    """Prefill x[:, :prompt] (in chunks of `chunk`), then decode the rest one at a time."""
    outs = [attn.prefill(x[:, :prompt], chunk)]
    outs += [attn.decode(x[:, p : p + 1]) for p in range(prompt, x.shape[1])]
    return torch.cat(outs, dim=1)


def max_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().nan_to_num(nan=float("inf")).max())


def first_bad_position(got: torch.Tensor, want: torch.Tensor, atol: float = 1e-4) -> int | None:
    bad = ~((got - want).abs() <= atol).all(dim=-1).all(dim=0)  # [T]; NaN counts as bad
    idx = bad.nonzero()
    return int(idx[0]) if idx.numel() else None
