"""RoPE in both layouts, the weight conversion between them, and one decode step of
grouped-query attention against a KV cache.

**Angles.** Pair i of a head of size d turns by `position * theta_i`, with
`theta_i = base^(-2i/d)` for i = 0 .. d/2 - 1 (`base` is transformers' `rope_theta`).
Angles are float32 whatever the activation dtype: in bfloat16, position 1000 is only
known to the nearest 4 and the angle would be off by whole radians.

**Layouts.** Which two entries of a head form pair i:

    half         (x[i], x[i + d/2])   transformers' `rotate_half` (Llama, Mistral on the Hub)
    interleaved  (x[2i], x[2i + 1])   the RoPE paper, Meta's and mistral-inference's code

Either way a pair (a, b) turns by +angle: `(a cos - b sin, b cos + a sin)`.
Example, d = 4, base 10000 (theta = [1, 0.01]), x = [1, 2, 3, 4] at position 1:
half turns (1, 3) by 1 rad and (2, 4) by 0.01 rad -> [-1.984, 1.960, 2.462, 4.020];
interleaved turns (1, 2) by 1 rad and (3, 4) by 0.01 rad -> [-1.143, 1.922, 2.960, 4.030].

**Conversion.** The two layouts are the same model once the output rows of wq and wk
are permuted within each head: half row j holds interleaved row 2j and half row
d/2 + j holds interleaved row 2j + 1, which is what transformers' Llama/Mistral
conversion script does to Meta's checkpoints. Then q and k come out permuted the same
way, every pair is rotated by the same angle, and q.k is unchanged. wv and wo are not
touched. For d = 8, the rows of one head go

    interleaved_to_half: [0, 2, 4, 6, 1, 3, 5, 7]   (new row r is old row order[r])
    half_to_interleaved: [0, 4, 1, 5, 2, 6, 3, 7]

**Decode.** One new token per sequence. The cache is `[batch, n_kv_heads, max_len,
head_dim]`: each kv head's keys are one `[max_len, head_dim]` block, so the queries
that share it (GQA: query head h reads kv head `h // (n_heads // n_kv_heads)`) are
stacked as `[group, head_dim]` and multiply that block in place. Repeating K and V per
query head would copy the cache `group` times: with Mistral 7B's 32 query heads over 8
kv heads, 512 MiB of copies for a 128 MiB cache, against none. Sequence b holds
`lengths[b]` tokens at indices 0 .. lengths[b] - 1 (positions equal indices); what lies
after is stale.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from reference.rope import rope_frequencies


def positions_of(x: Tensor, offset: int | Tensor) -> Tensor:
    """int64 `[batch or 1, seq]`: token t of sequence b is at position `offset[b] + t`."""
    steps = torch.arange(x.shape[1], device=x.device)  # [seq]
    start = torch.as_tensor(offset, device=x.device).reshape(-1, 1)  # [batch or 1, 1]
    return start + steps


def rope_angles(positions: Tensor, head_dim: int, base: float) -> Tensor:
    """float32 `[*positions.shape, head_dim // 2]`: `position * theta_i`."""
    inv_freq = rope_frequencies(head_dim, base, positions.device)  # [d/2]
    return positions.float()[..., None] * inv_freq


def _cos_sin(x: Tensor, offset: int | Tensor, base: float) -> tuple[Tensor, Tensor]:
    """float32 cos and sin `[batch or 1, seq, 1, d/2]`: one angle per pair, every head."""
    angles = rope_angles(positions_of(x, offset), x.shape[-1], base)[:, :, None]
    return angles.cos(), angles.sin()


def _turn(a: Tensor, b: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    """Each pair (a, b) turned by +angle."""
    return a * cos - b * sin, b * cos + a * sin


def apply_rope_half(x: Tensor, offset: int | Tensor = 0, base: float = 10000.0) -> Tensor:
    """Rotate pairs `(x[i], x[i + d/2])` of x `[batch, seq, n_heads, head_dim]`.

    offset: an int, or int64 `[batch]` for a ragged batch (absolute positions).
    Computed in float32, returned in x's dtype.
    """
    cos, sin = _cos_sin(x, offset, base)
    a, b = x.float().chunk(2, dim=-1)  # [b, s, h, d/2] each
    return torch.cat(_turn(a, b, cos, sin), dim=-1).to(x.dtype)


def apply_rope_interleaved(x: Tensor, offset: int | Tensor = 0, base: float = 10000.0) -> Tensor:
    """Rotate pairs `(x[2i], x[2i + 1])` of x `[batch, seq, n_heads, head_dim]`.

    The same angles as `apply_rope_half`; only the pairing differs.
    """
    cos, sin = _cos_sin(x, offset, base)
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)  # [b, s, h, d/2, 2]
    turned = _turn(pairs[..., 0], pairs[..., 1], cos, sin)
    return torch.stack(turned, dim=-1).flatten(-2).to(x.dtype)


def interleaved_to_half(w: Tensor, n_heads: int) -> Tensor:
    """Rows of wq or wk `[n_heads * head_dim, in]` from the interleaved to the half layout.

    Within each head, rows (2j, 2j + 1) become rows (j, d/2 + j): read the head's rows
    as `[d/2, 2]` and transpose to `[2, d/2]`. Pass n_kv_heads for wk.
    """
    rows, cols = w.shape
    head_dim = rows // n_heads
    return w.reshape(n_heads, head_dim // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def half_to_interleaved(w: Tensor, n_heads: int) -> Tensor:
    """The inverse of `interleaved_to_half`: rows (j, d/2 + j) become (2j, 2j + 1)."""
    rows, cols = w.shape
    head_dim = rows // n_heads
    return w.reshape(n_heads, 2, head_dim // 2, cols).transpose(1, 2).reshape(rows, cols)


def decode_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, lengths: Tensor) -> Tensor:
    """One query per sequence against its first `lengths[b]` cached keys.

    q `[batch, n_heads, head_dim]`; k_cache, v_cache `[batch, n_kv_heads, max_len,
    head_dim]`; lengths int64 `[batch]`, each in 1 .. max_len. Scores, softmax and the
    sum over V in float32 (a no-op cast for float32 caches, so no copy); scale
    1/sqrt(head_dim). Returns `[batch, n_heads, head_dim]` in q's dtype.
    """
    batch, n_heads, head_dim = q.shape
    n_kv_heads = k_cache.shape[1]
    group = n_heads // n_kv_heads
    longest = int(lengths.max())
    # Views up to the longest sequence: nothing past it can be attended.
    k = k_cache[:, :, :longest].float()  # [b, n_kv, L, d]
    v = v_cache[:, :, :longest].float()
    # Heads h = kv * group + g sit under their kv head; the batch dims of q and k then
    # match, so matmul multiplies each cache block in place (a broadcast over the group
    # would expand k and copy it group times).
    qg = q.float().reshape(batch, n_kv_heads, group, head_dim)
    scores = qg @ k.transpose(-1, -2) / math.sqrt(head_dim)  # [b, n_kv, group, L]
    valid = torch.arange(longest, device=q.device) < lengths.to(q.device)[:, None]  # [b, L]
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v  # [b, n_kv, group, d]
    return out.reshape(batch, n_heads, head_dim).to(q.dtype)


def decode_step(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    lengths: Tensor,
    base: float = 10000.0,
    interleaved: bool = False,
) -> Tensor:
    """Attention output of one new token per sequence; writes its K and V into the cache.

    q `[batch, n_heads, head_dim]`, k and v `[batch, n_kv_heads, head_dim]`: the new
    token's projections, before RoPE. lengths int64 `[batch]`: tokens already cached, so
    the new token is at position `lengths[b]`. Rotates q and k there, writes k and v at
    cache index `lengths[b]` (in place), then attends indices 0 .. lengths[b], its own
    key included. lengths is not changed: the caller adds 1 after the last layer.

    Example: lengths [3, 1]: sequence 0 writes index 3 and attends 0..3, sequence 1
    writes index 1 and attends 0..1; index 2 of sequence 1 is stale and ignored.
    """
    rope = apply_rope_interleaved if interleaved else apply_rope_half
    q = rope(q[:, None], lengths, base)[:, 0]  # a sequence of one token at lengths[b]
    k = rope(k[:, None], lengths, base)[:, 0]
    rows = torch.arange(q.shape[0], device=k_cache.device)
    at = lengths.to(k_cache.device)
    k_cache[rows, :, at] = k.to(k_cache.dtype)  # [batch, n_kv, head_dim] into index at[b]
    v_cache[rows, :, at] = v.to(v_cache.dtype)
    return decode_attention(q, k_cache, v_cache, lengths + 1)
