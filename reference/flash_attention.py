"""Flash attention: exact softmax attention computed in tiles, forward and backward.

Plain attention builds the score matrix `S = scale * q k^T`, `[q_len, kv_len]` per head,
takes its softmax and multiplies by v: O(N^2) memory (64 MiB of float32 for one head
at N = 4096). Flash attention walks the keys in tiles and never holds more than a
`[block_q, block_k]` tile of scores, thanks to the *online softmax*: per query row it
keeps a running max `m`, a running sum `l = sum exp(s - m)` and an unnormalised output
`acc = sum exp(s - m) v`; when a new tile raises the max to `m'`, everything kept so
far is multiplied by `exp(m - m')` (it was computed against the old max), and the
tile is added against `m'`. At the end `out = acc / l` and `lse = m + log l`.

Worked example, one query row, scores [1, 3] in the first tile and [2, 5] in the
second, values v = [10, 20 | 30, 40]:

    tile 1: m = 3,  l = e^-2 + 1 = 1.1353,  acc = 10 e^-2 + 20 = 21.353
    tile 2: m' = 5, alpha = e^(3-5) = 0.1353
            l   = 0.1353 * 1.1353 + e^-3 + 1      = 1.2034
            acc = 0.1353 * 21.353 + 30 e^-3 + 40  = 44.383
    out = 44.383 / 1.2034 = 36.881 (= softmax([1, 3, 2, 5]) . [10, 20, 30, 40])
    lse = 5 + log 1.2034  = 5.1852 (= log sum exp [1, 3, 2, 5])

Layout `[batch, heads, seq, head_dim]`, as `torch.nn.functional.scaled_dot_product_attention`
takes it. GQA: query head h reads kv head `h // (n_heads // n_kv_heads)`; internally q is
viewed as `[batch, n_kv_heads, group, q_len, head_dim]` so the heads sharing a kv head
are one broadcast dimension, and nothing loops over batch or heads, only over tiles.

Masks are positional: query row i sits at position `offset + i` (offset defaults to
`kv_len - q_len`: the queries are the last q_len positions, a chunk after cached keys),
key j at position j. Causal: j <= offset + i. Sliding window W (causal only): also
`j > offset + i - W`, the W most recent keys, itself included. A row with no allowed
key (possible with an offset or a window that leaves the keys behind) returns zeros,
as SDPA does on the CPU, and its log-sum-exp is `-inf` (the log of an empty sum).

Everything accumulates in float32: bfloat16 inputs are upcast tile by tile and the
output is rounded to the input dtype once, at the end.

`flash_attention_masked` is the same forward in the reference engine's layout and
signature (`reference.attention.attention`): `[batch, seq, heads, head_dim]` and an
explicit boolean mask, sliced per tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

# Tiles of 128 x 128 scores: 64 KiB of float32 per (batch, head), large enough that the
# Python loop over tiles costs little next to the matmuls, small enough that a tile is
# nothing next to the N x N matrix it replaces.
BLOCK_Q = 128
BLOCK_K = 128

# What a tile's mask says: True, every score allowed (no masking needed); False, none
# (the tile is skipped); or a bool tensor broadcastable to the tile's scores.
TileMask = Callable[[int, int, int, int], Tensor | bool]


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    scale: float | None = None,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> tuple[Tensor, Tensor]:
    """Attention of q `[b, h, q_len, d]` over k, v `[b, h_kv, kv_len, d]`, tile by tile.

    Returns `(out, lse)`: out `[b, h, q_len, d]` in q's dtype, and the float32
    log-sum-exp of each row's scaled, masked scores `[b, h, q_len]` (`-inf` for a row
    with no allowed key), which the backward needs to rebuild the softmax.
    """
    scale = _check(q, k, v, causal, window, block_q, block_k, scale)
    mask_of = _positional_mask(q.shape[2], k.shape[2], causal, window, offset, q.device)
    q5 = _split_heads(q, k.shape[1])  # [b, h_kv, group, q_len, d], a view
    out, lse = _forward(q5, k[:, :, None], v[:, :, None], mask_of, scale, block_q, block_k)
    return out.flatten(1, 2), lse.flatten(1, 2)


def flash_attention_backward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    dout: Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    scale: float | None = None,
    block_q: int = BLOCK_Q,
    block_k: int = BLOCK_K,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients `(dq, dk, dv)` of `sum(out * dout)`, in the dtypes and shapes of q, k, v.

    `out` and `lse` are what `flash_attention` returned for the same arguments. The
    softmax is rebuilt tile by tile as `P = exp(S - lse)`, so nothing N x N is kept.
    With `D = rowsum(dout * out)` (= rowsum(P * dP), the softmax's Jacobian in one
    number per row):

        dV = P^T dout       dP = dout V^T       dS = P * (dP - D)
        dQ = scale * dS K   dK = scale * dS^T Q

    dk and dv sum over the query heads that share each kv head.
    """
    scale = _check(q, k, v, causal, window, block_q, block_k, scale)
    mask_of = _positional_mask(q.shape[2], k.shape[2], causal, window, offset, q.device)
    n_kv = k.shape[1]
    dq, dk, dv = _backward(
        _split_heads(q, n_kv),
        k,
        v,
        _split_heads(out, n_kv),
        _split_heads(lse, n_kv),
        _split_heads(dout, n_kv),
        mask_of,
        scale,
        block_q,
        block_k,
    )
    return dq.flatten(1, 2).to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


def flash_attention_masked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    scale: float | None = None,
) -> Tensor:
    """`reference.attention.attention`, computed tile by tile: the engine's drop-in.

    q `[b, q_len, h, d]`, k, v `[b, kv_len, h_kv, d]`; mask bool (True = may attend)
    broadcastable to `[b, 1, q_len, kv_len]`, given as `[q_len, kv_len]`,
    `[b, q_len, kv_len]` or 4-D (`[b, h, q_len, kv_len]` per head also works).
    Returns `[b, q_len, h, d]` (a transposed view, as `attention` returns). A row with
    no allowed key gives zeros. Each tile's slice of the mask is applied to its scores;
    no tile is skipped, since deciding that would read the mask on the host (a device
    sync per tile on a GPU).
    """
    n_heads, n_kv = q.shape[2], k.shape[2]
    if n_heads % n_kv:
        raise ValueError(f"n_heads={n_heads} is not a multiple of n_kv_heads={n_kv}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    q5 = _split_heads(q.transpose(1, 2), n_kv)  # [b, h_kv, group, q_len, d]
    k4, v4 = k.transpose(1, 2)[:, :, None], v.transpose(1, 2)[:, :, None]
    if mask is None:
        mask_of: TileMask = _everything
    else:
        mask_of = _slices_of(_mask_5d(mask, q.shape[1], k.shape[1], n_kv))
    out, _ = _forward(q5, k4, v4, mask_of, scale, BLOCK_Q, BLOCK_K)
    return out.flatten(1, 2).transpose(1, 2)


# The tiled loops -------------------------------------------------------------------


def _forward(
    q: Tensor, k: Tensor, v: Tensor, mask_of: TileMask, scale: float, block_q: int, block_k: int
) -> tuple[Tensor, Tensor]:
    """The online softmax. q `[b, h_kv, g, q_len, d]`, k, v `[b, h_kv, 1, kv_len, d]`;
    returns out (q's dtype) and lse (float32) in q's layout."""
    q_len, kv_len = q.shape[-2], k.shape[-2]
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    lse = torch.empty(q.shape[:-1], dtype=torch.float32, device=q.device)
    for qs in range(0, q_len, block_q):
        qe = min(qs + block_q, q_len)
        # Scale q once per tile instead of every [bq, bk] tile of scores.
        q_tile = q[..., qs:qe, :].float() * scale  # [b, h_kv, g, bq, d]
        m = torch.full(q_tile.shape[:-1], -math.inf, device=q.device)  # running max
        l = torch.zeros(q_tile.shape[:-1], device=q.device)  # running sum  # noqa: E741
        acc = torch.zeros(q_tile.shape, device=q.device)  # unnormalised output
        for ks in range(0, kv_len, block_k):
            ke = min(ks + block_k, kv_len)
            allowed = mask_of(qs, qe, ks, ke)
            if allowed is False:
                continue
            s = q_tile @ k[..., ks:ke, :].float().transpose(-1, -2)  # [b, h_kv, g, bq, bk]
            if allowed is not True:
                s = s.masked_fill(~allowed, -math.inf)
            m_new = torch.maximum(m, s.amax(dim=-1))
            # A row whose keys so far are all masked has m_new = -inf, and -inf - -inf is
            # NaN: shift it by 0 instead (its exp(s) and alpha are 0 either way).
            shift = m_new.masked_fill(m_new == -math.inf, 0.0)
            p = torch.exp(s - shift[..., None])
            alpha = torch.exp(m - shift)  # rescales what was summed against the old max
            l = alpha * l + p.sum(dim=-1)  # noqa: E741
            acc = alpha[..., None] * acc + p @ v[..., ks:ke, :].float()
            m = m_new
        # l >= 1 in a row with any allowed key (its max contributes exp(0) = 1); an
        # empty row has l = 0 and acc = 0, and must give 0, not 0 / 0.
        out[..., qs:qe, :] = acc / l.clamp(min=1.0)[..., None]
        lse[..., qs:qe] = m + torch.log(l)  # -inf + log 0 = -inf for an empty row
    return out, lse


def _backward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    dout: Tensor,
    mask_of: TileMask,
    scale: float,
    block_q: int,
    block_k: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """float32 (dq `[b, h_kv, g, q_len, d]`, dk, dv `[b, h_kv, kv_len, d]`).

    Query tiles outside, key tiles inside: dq of a query tile is finished when its
    inner loop ends; dk and dv gather from every query tile, in float32 buffers of
    k's size (O(N d), as the output is)."""
    b, n_kv, _, q_len, d = q.shape
    kv_len = k.shape[-2]
    dq = torch.zeros(q.shape, device=q.device)
    dk = torch.zeros(b, n_kv, kv_len, d, device=q.device)
    dv = torch.zeros(b, n_kv, kv_len, d, device=q.device)
    for qs in range(0, q_len, block_q):
        qe = min(qs + block_q, q_len)
        q_tile = q[..., qs:qe, :].float()  # [b, h_kv, g, bq, d]
        do_tile = dout[..., qs:qe, :].float()
        delta = (do_tile * out[..., qs:qe, :].float()).sum(dim=-1)  # D, [b, h_kv, g, bq]
        row_lse = lse[..., qs:qe]
        # An empty row has lse = -inf and only -inf scores; shifting by 0 keeps P = 0.
        row_lse = row_lse.masked_fill(row_lse == -math.inf, 0.0)[..., None]
        dq_tile = torch.zeros(q_tile.shape, device=q.device)
        for ks in range(0, kv_len, block_k):
            ke = min(ks + block_k, kv_len)
            allowed = mask_of(qs, qe, ks, ke)
            if allowed is False:
                continue
            k_tile = k[:, :, None, ks:ke, :].float()  # [b, h_kv, 1, bk, d]
            v_tile = v[:, :, None, ks:ke, :].float()
            s = (q_tile @ k_tile.transpose(-1, -2)) * scale  # [b, h_kv, g, bq, bk]
            if allowed is not True:
                s = s.masked_fill(~allowed, -math.inf)
            p = torch.exp(s - row_lse)  # the forward's softmax, rebuilt
            # Rows of all g heads sharing a kv head stacked: one matmul sums over them.
            p_rows = p.flatten(2, 3)  # [b, h_kv, g * bq, bk]
            dv[..., ks:ke, :] += p_rows.transpose(-1, -2) @ do_tile.flatten(2, 3)
            dp = do_tile @ v_tile.transpose(-1, -2)
            ds = p * (dp - delta[..., None])  # [b, h_kv, g, bq, bk]
            dq_tile += (ds @ k_tile) * scale
            dk[..., ks:ke, :] += (ds.flatten(2, 3).transpose(-1, -2) @ q_tile.flatten(2, 3)) * scale
        dq[..., qs:qe, :] = dq_tile
    return dq, dk, dv


# Masks and checks --------------------------------------------------------------------


def _positional_mask(
    q_len: int,
    kv_len: int,
    causal: bool,
    window: int | None,
    offset: int | None,
    device: torch.device,
) -> TileMask:
    """The tile masks of causal / sliding-window attention with queries at offset + i.

    Whole tiles are decided from their corners: the keys of a tile run ks .. ke-1 and
    its query positions lo .. hi; it is all masked when its first key is after the last
    query (ks > hi) or its last key is out of the first query's window (ke-1 <= lo - W),
    all allowed when its last key is at or before the first query (ke-1 <= lo) and its
    first key within the last query's window (ks > hi - W). Only the tiles on the
    diagonals build a mask.
    """
    if not causal:
        return _everything
    start = kv_len - q_len if offset is None else offset
    w = math.inf if window is None else window

    def mask_of(qs: int, qe: int, ks: int, ke: int) -> Tensor | bool:
        lo, hi = start + qs, start + qe - 1  # positions of the tile's first and last query
        if ks > hi or ke - 1 <= lo - w:
            return False
        if ke - 1 <= lo and ks > hi - w:
            return True
        pos = torch.arange(lo, hi + 1, device=device)[:, None]  # [bq, 1]
        key = torch.arange(ks, ke, device=device)[None, :]  # [1, bk]
        return (key <= pos) & (key > pos - w)

    return mask_of


def _everything(qs: int, qe: int, ks: int, ke: int) -> bool:
    """No mask: every tile wholly allowed."""
    return True


def _slices_of(mask: Tensor) -> TileMask:
    """The tiles of an explicit mask `[..., q_len, kv_len]`: views, nothing copied."""

    def mask_of(qs: int, qe: int, ks: int, ke: int) -> Tensor:
        return mask[..., qs:qe, ks:ke]

    return mask_of


def _split_heads(t: Tensor, n_kv: int) -> Tensor:
    """`[b, n_heads, ...]` as `[b, n_kv, group, ...]`: heads h = kv * group + i, so kv head
    `h // group` for each. A view (splitting one dimension needs no copy)."""
    return t.view(t.shape[0], n_kv, t.shape[1] // n_kv, *t.shape[2:])


def _mask_5d(mask: Tensor, q_len: int, kv_len: int, n_kv: int) -> Tensor:
    """An engine mask as `[b or 1, h_kv or 1, group or 1, q_len, kv_len]`, a view."""
    if mask.dim() == 2:
        mask = mask[None, None]  # one mask for the batch
    elif mask.dim() == 3:
        mask = mask[:, None]  # one mask per sequence, shared by the heads
    # Broadcast dims of size 1 along q or kv become real (stride 0) so tiles can slice them.
    mask = mask.expand(*mask.shape[:2], q_len, kv_len)
    if mask.shape[1] == 1:
        return mask[:, :, None]
    return _split_heads(mask, n_kv)  # a per-head mask, heads grouped as q is


def _check(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool,
    window: int | None,
    block_q: int,
    block_k: int,
    scale: float | None,
) -> float:
    """The scale, after rejecting what has no meaning."""
    if q.dim() != 4 or k.dim() != 4 or k.shape != v.shape:
        raise ValueError(
            f"q, k, v must be [batch, heads, seq, head_dim] with k and v alike, got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    n_heads, n_kv = q.shape[1], k.shape[1]
    if n_heads % n_kv:
        raise ValueError(f"n_heads={n_heads} is not a multiple of n_kv_heads={n_kv}")
    if window is not None and (window < 1 or not causal):
        raise ValueError(f"window must be >= 1 and needs causal=True, got window={window}")
    if block_q < 1 or block_k < 1:
        raise ValueError(f"block sizes must be >= 1, got {block_q}, {block_k}")
    return 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
