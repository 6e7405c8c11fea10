"""Rotary position embedding (RoPE), in the rotate-half layout of Hugging Face Mistral.

Each head vector x of size head_dim is split into halves x1 = x[:h], x2 = x[h:]
(h = head_dim / 2). Pair k is (x1[k], x2[k]), rotated by the angle
`position * theta^(-2k / head_dim)`:

    out[:h] = x1 * cos - x2 * sin
    out[h:] = x2 * cos + x1 * sin

which is `x * cos + rotate_half(x) * sin` with `rotate_half(x) = cat(-x2, x1)` and
cos, sin repeated over both halves. (Meta's original code pairs adjacent entries
(x[2k], x[2k+1]) instead; Hugging Face checkpoints permute q/k weights to this layout.)

Example, head_dim=4, theta=10000: frequencies [1, 0.01]; at position 2 the angles
are [2, 0.02, 2, 0.02], so x = [1, 0, 0, 0] becomes [cos 2, 0, sin 2, 0].

Angles are computed in float32 whatever the activation dtype (a bf16 position
times frequency loses whole radians past a few hundred tokens), then cos and sin
are cast to the activation dtype, as transformers does.
"""

from __future__ import annotations

import torch


def rope_frequencies(
    head_dim: int, theta: float, device: torch.device | str | None = None
) -> torch.Tensor:
    """Float32 `[head_dim // 2]`: `theta ** (-2k / head_dim)` for k = 0 .. head_dim/2 - 1."""
    if head_dim % 2:
        raise ValueError(f"head_dim must be even, got {head_dim}")
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim
    return 1.0 / (theta**exponents)


def rope_cos_sin(
    positions: torch.Tensor,
    head_dim: int,
    theta: float,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape `[*positions.shape, head_dim]` in `dtype`.

    positions: integer `[seq]` or `[batch, seq]` (absolute positions: offset + i for
    a chunk after `offset` cached tokens). device defaults to the positions' device.
    """
    device = positions.device if device is None else device
    inv_freq = rope_frequencies(head_dim, theta, device)  # [h]
    angles = positions.to(device=device, dtype=torch.float32)[..., None] * inv_freq  # [..., seq, h]
    angles = torch.cat((angles, angles), dim=-1)  # [..., seq, head_dim]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """`cat(-x2, x1)` over the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q `[batch, seq, n_heads, head_dim]` and k `[batch, seq, n_kv_heads, head_dim]`.

    cos, sin: `[seq, head_dim]` or `[batch, seq, head_dim]` from `rope_cos_sin`; they
    broadcast over heads. Returns new tensors in the inputs' dtype.
    """
    cos = cos.unsqueeze(-2)  # [..., seq, 1, head_dim]
    sin = sin.unsqueeze(-2)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
