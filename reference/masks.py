"""Attention masks: causal, sliding window, chunked-prefill offsets, right padding.

Every mask here is boolean and True where attention is allowed, the convention of
`torch.nn.functional.scaled_dot_product_attention`. Positions:

- query row i sits at position `p = offset + i` (offset = tokens already in the KV
  cache: 0 for a prefill, the cache length for a decode step or a later prefill chunk);
- key column j sits at position j (the cache holds every position from 0).

Sliding window W: the query at position p attends key j iff `p - W < j <= p`, i.e. the
W most recent positions, itself included. W=1 is self only; W >= kv_len is plain
causal; `window=None` means plain causal.

Worked example: q_len=3, kv_len=6, window=3, offset=3 (a 3-token chunk after 3
cached tokens). Queries sit at positions 3, 4, 5:

                key j:  0 1 2 3 4 5
    i=0  p=3  (1..3)    . x x x . .
    i=1  p=4  (2..4)    . . x x x .
    i=2  p=5  (3..5)    . . . x x x

Padding (`padded_sliding_window_mask`): sequences are right-padded. Sequence b has
`lengths[b]` real tokens at positions 0 .. lengths[b]-1; later slots are padding.
A real query row follows the rule above; causality already keeps it off the padding
keys, which all sit after it. A padding query row attends to itself only: a row with
no allowed key would make softmax 0/0 = NaN, and a NaN in a padding row's output
flows into the next layer's keys and values, where even a zero attention weight
times NaN poisons the real rows. Callers ignore the outputs of padding rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Device = torch.device | str | None


def _check(q_len: int, kv_len: int, window: int | None, offset: int) -> None:
    if q_len < 0 or kv_len < 0:
        raise ValueError(f"lengths must be >= 0, got q_len={q_len}, kv_len={kv_len}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if window is not None and window < 1:
        raise ValueError(f"window must be >= 1 or None, got {window}")


def sliding_window_mask(
    q_len: int,
    kv_len: int,
    window: int | None,
    offset: int = 0,
    device: Device = None,
) -> torch.Tensor:
    """Bool `[q_len, kv_len]`, True where query i (position offset+i) may attend key j.

    Allowed iff `offset + i - window < j <= offset + i`; `window=None` is causal.

    Why it is built from one vector: whether i sees j depends only on the diagonal
    `d = j - (offset + i)` (allowed iff `-window < d <= 0`), so each row is the row
    above shifted right by one. We evaluate the rule once per diagonal, on a vector
    `band` of q_len + kv_len - 1 entries, and cut the rows out of it as overlapping
    windows (`unfold`, a view). The allowed diagonals are one contiguous run of the
    band, so building it is a slice assignment; the only q_len x kv_len write is the
    final copy. The peak is the output plus two short vectors, and no comparison
    runs q_len * kv_len times.

    The example of the module docstring (q_len=3, kv_len=6, window=3, offset=3):
    band entry e stands for d = e - (q_len - 1) - offset = e - 5, e = 0..7:

        e:     0  1  2  3  4  5  6  7
        d:    -5 -4 -3 -2 -1  0  1  2
        band:  .  .  .  x  x  x  .  .

    Window r of width kv_len is band[r : r + 6]; row i is window q_len-1-i:
    i=0 -> band[2:8] = . x x x . .,  i=2 -> band[0:6] = . . . x x x.
    """
    _check(q_len, kv_len, window, offset)
    if q_len == 0 or kv_len == 0:
        return torch.zeros(q_len, kv_len, dtype=torch.bool, device=device)
    own = q_len - 1 + offset  # band entry of d = 0, the query's own key
    first = 0 if window is None else max(own - window + 1, 0)  # entry of d = 1 - window
    band = torch.zeros(q_len + kv_len - 1, dtype=torch.bool, device=device)  # [q+k-1]
    band[first : own + 1] = True  # the allowed diagonals, one contiguous run
    if q_len == 1:
        return band[None]  # a decode step: the band is its only row
    rows = band.unfold(0, kv_len, 1)  # [q_len, kv_len] view, rows[r] = band[r : r + kv_len]
    # index_select writes a fresh contiguous tensor, row i taken from window q_len-1-i.
    reverse = torch.arange(q_len - 1, -1, -1, device=band.device)
    return rows.index_select(0, reverse)


def causal_mask(q_len: int, kv_len: int, offset: int = 0, device: Device = None) -> torch.Tensor:
    """Bool `[q_len, kv_len]`: query i (position offset+i) attends every key j <= offset+i."""
    return sliding_window_mask(q_len, kv_len, None, offset, device)


def padded_sliding_window_mask(
    lengths: torch.Tensor | Sequence[int],
    window: int | None,
    q_len: int | None = None,
    offset: int = 0,
    device: Device = None,
) -> torch.Tensor:
    """Bool `[batch, q_len, offset + q_len]` for a right-padded batch.

    lengths: `[batch]` ints, real tokens per sequence counting the cache and this
    chunk (positions 0 .. lengths[b]-1 are real). Queries sit at positions
    offset .. offset+q_len-1 in every sequence; keys at 0 .. offset+q_len-1.
    q_len defaults to `max(lengths) - offset` (a host sync for a device tensor).
    The output is on `device`, else on `lengths`' device.

    Real row (offset+i < lengths[b]): the sliding-window rule. Padding row: itself only.

    Example: lengths=[3, 1], window=2, offset=0, q_len=3:

        b=0 (3 real)    b=1 (1 real)
        x . .           x . .
        x x .           . x .    <- padding rows: the diagonal only
        . x x           . . x
    """
    if device is None and isinstance(lengths, torch.Tensor):
        device = lengths.device
    lens = torch.as_tensor(lengths, dtype=torch.long, device=device)  # [batch]
    if lens.dim() != 1:
        raise ValueError(f"lengths must be 1-D [batch], got shape {tuple(lens.shape)}")
    if q_len is None:
        q_len = max(int(lens.max()) - offset, 0) if lens.numel() else 0
    kv_len = offset + q_len
    allowed = sliding_window_mask(q_len, kv_len, window, offset, lens.device)  # [q, k]
    real = (torch.arange(q_len, device=lens.device) + offset) < lens[:, None]  # [b, q]
    mask = allowed & real[:, :, None]  # [b, q, k]: padding rows now all False
    # Diagonal `offset` of each [q, k] grid holds (i, offset + i): each row's own key.
    own = mask.diagonal(offset, dim1=1, dim2=2)  # [b, q] view
    own |= ~real
    return mask


def to_additive(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Additive bias of `mask`'s shape: 0.0 where allowed, -inf where not.

    For kernels that take a bias added to the scores instead of a boolean mask. A row
    with nothing allowed gives NaN after softmax; the masks above never have one.
    """
    bias = torch.full(mask.shape, float("-inf"), dtype=dtype, device=mask.device)
    return bias.masked_fill_(mask, 0.0)
