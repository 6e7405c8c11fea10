"""Flash attention, forward and backward: see PROMPT.md for the full statement."""

from __future__ import annotations

import math

import torch
from torch import Tensor

BLOCK = 64  # default tile: 64 x 64 scores, 16 KiB of float32 per (batch, head)


def _tile_mask(
    qs: int,
    qe: int,
    ks: int,
    ke: int,
    causal: bool,
    window: int | None,
    offset: int,
    device: torch.device,
) -> Tensor | None:
    """[bq, bk] bool, True where query qs+i (at position offset+qs+i) sees key ks+j;
    None when nothing is masked."""
    if not causal:
        return None
    pos = torch.arange(qs, qe, device=device)[:, None] + offset
    key = torch.arange(ks, ke, device=device)[None, :]
    allowed = key <= pos
    if window is not None:
        allowed &= key > pos - window
    return allowed


def _setup(
    q: Tensor,
    k: Tensor,
    causal: bool,
    window: int | None,
    scale: float | None,
) -> tuple[int, int, float]:
    """(kv heads, group size, scale) after checking the arguments."""
    n_heads, n_kv = q.shape[1], k.shape[1]
    if n_heads % n_kv != 0:
        raise ValueError(f"n_heads={n_heads} is not a multiple of n_kv_heads={n_kv}")
    if window is not None and (window < 1 or not causal):
        raise ValueError("window must be >= 1 and requires causal=True")
    return n_kv, n_heads // n_kv, 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    offset: int | None = None,
    scale: float | None = None,
    block_q: int = BLOCK,
    block_k: int = BLOCK,
) -> tuple[Tensor, Tensor]:
    """(out [b, h, q_len, d] in q's dtype, lse [b, h, q_len] float32)."""
    n_kv, group, scale = _setup(q, k, causal, window, scale)
    b, n_heads, q_len, d = q.shape
    kv_len = k.shape[2]
    off = kv_len - q_len if offset is None else offset
    dev = q.device
    qg = q.reshape(b, n_kv, group, q_len, d)  # heads sharing a kv head side by side
    kg, vg = k[:, :, None], v[:, :, None]  # [b, n_kv, 1, kv_len, d]
    out = torch.empty(b, n_kv, group, q_len, d, dtype=q.dtype, device=dev)
    lse = torch.empty(b, n_kv, group, q_len, dtype=torch.float32, device=dev)
    for qs in range(0, q_len, block_q):
        qe = min(qs + block_q, q_len)
        qt = qg[..., qs:qe, :].float()
        m = torch.full(qt.shape[:-1], -math.inf, device=dev)
        l = torch.zeros(qt.shape[:-1], device=dev)  # noqa: E741
        acc = torch.zeros(qt.shape, device=dev)
        for ks in range(0, kv_len, block_k):
            ke = min(ks + block_k, kv_len)
            allowed = _tile_mask(qs, qe, ks, ke, causal, window, off, dev)
            if allowed is not None and not allowed.any():
                continue  # a tile wholly above the diagonal (or out of the window)
            s = (qt @ kg[..., ks:ke, :].float().transpose(-1, -2)) * scale
            if allowed is not None:
                s = s.masked_fill(~allowed, -math.inf)
            m_new = torch.maximum(m, s.amax(-1))
            safe = torch.where(m_new == -math.inf, 0.0, m_new)  # all masked so far: no -inf - -inf
            p = torch.exp(s - safe[..., None])
            alpha = torch.exp(m - safe)
            l = alpha * l + p.sum(-1)  # noqa: E741
            acc = alpha[..., None] * acc + p @ vg[..., ks:ke, :].float()
            m = m_new
        out[..., qs:qe, :] = torch.where(l[..., None] > 0, acc / l[..., None], 0.0)
        lse[..., qs:qe] = m + torch.log(l)  # empty row: -inf
    return out.view(b, n_heads, q_len, d), lse.view(b, n_heads, q_len)


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
    block_q: int = BLOCK,
    block_k: int = BLOCK,
) -> tuple[Tensor, Tensor, Tensor]:
    """(dq, dk, dv) in the shapes and dtypes of q, k, v, tile by tile."""
    n_kv, group, scale = _setup(q, k, causal, window, scale)
    b, n_heads, q_len, d = q.shape
    kv_len = k.shape[2]
    off = kv_len - q_len if offset is None else offset
    dev = q.device
    qg = q.reshape(b, n_kv, group, q_len, d)
    og = out.reshape(b, n_kv, group, q_len, d)
    dog = dout.reshape(b, n_kv, group, q_len, d)
    lg = lse.reshape(b, n_kv, group, q_len)
    dq = torch.zeros(b, n_kv, group, q_len, d, device=dev)
    dk = torch.zeros(b, n_kv, kv_len, d, device=dev)
    dv = torch.zeros(b, n_kv, kv_len, d, device=dev)
    for qs in range(0, q_len, block_q):
        qe = min(qs + block_q, q_len)
        qt, dot = qg[..., qs:qe, :].float(), dog[..., qs:qe, :].float()
        delta = (dot * og[..., qs:qe, :].float()).sum(-1, keepdim=True)  # D = rowsum(dO * O)
        row_lse = lg[..., qs:qe, None]
        row_lse = torch.where(row_lse == -math.inf, 0.0, row_lse)  # empty rows: P = 0
        for ks in range(0, kv_len, block_k):
            ke = min(ks + block_k, kv_len)
            allowed = _tile_mask(qs, qe, ks, ke, causal, window, off, dev)
            if allowed is not None and not allowed.any():
                continue
            kt = k[:, :, None, ks:ke, :].float()
            vt = v[:, :, None, ks:ke, :].float()
            s = (qt @ kt.transpose(-1, -2)) * scale
            if allowed is not None:
                s = s.masked_fill(~allowed, -math.inf)
            p = torch.exp(s - row_lse)  # [b, n_kv, group, bq, bk]
            dv[:, :, ks:ke] += (p.transpose(-1, -2) @ dot).sum(2)
            dp = dot @ vt.transpose(-1, -2)
            ds = p * (dp - delta)
            dq[..., qs:qe, :] += (ds @ kt) * scale
            dk[:, :, ks:ke] += (ds.transpose(-1, -2) @ qt).sum(2) * scale
    return (
        dq.view(b, n_heads, q_len, d).to(q.dtype),
        dk.to(k.dtype),
        dv.to(v.dtype),
    )
