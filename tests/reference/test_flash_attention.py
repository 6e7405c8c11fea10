"""reference.flash_attention against SDPA (float64, and autograd through it), torch's
logsumexp, reference.attention, and the reference engine with the tiled kernel swapped in.

The masks here are written out row by row (`window_mask`), independent of the tile masks
under test and of reference.masks.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from transformers import MistralConfig, MistralForCausalLM

from reference.attention import attention
from reference.components import Components
from reference.engine import generate
from reference.flash_attention import (
    BLOCK_K,
    BLOCK_Q,
    flash_attention,
    flash_attention_backward,
    flash_attention_masked,
)
from reference.kv_layout import CacheKind
from reference.masks import padded_sliding_window_mask, sliding_window_mask
from reference.model import from_state_dict

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=40)

# (batch, n_heads, n_kv_heads, q_len, kv_len, head_dim, causal, window, offset)
Config = tuple[int, int, int, int, int, int, bool, int | None, int | None]
CONFIGS: list[Config] = [
    (2, 4, 2, 37, 53, 16, False, None, None),
    (1, 3, 3, 150, 150, 8, True, None, None),  # two and a bit tiles of 128
    (2, 6, 2, 40, 300, 16, True, None, None),  # a chunk after 260 cached keys
    (1, 4, 1, 200, 200, 8, True, 33, None),  # sliding window: most tiles skipped
    (1, 2, 1, 24, 80, 8, True, 17, 40),  # explicit offset
    (3, 8, 2, 1, 260, 16, True, 64, None),  # a decode step
    (1, 2, 2, 30, 30, 8, True, 1, None),  # itself only
]


def window_mask(
    q_len: int, kv_len: int, causal: bool, window: int | None, offset: int | None
) -> Tensor:
    """bool [q_len, kv_len], row i (position p = offset + i) allowing keys p-W+1 .. p."""
    mask = torch.ones(q_len, kv_len, dtype=torch.bool)
    if not causal:
        return mask
    start = kv_len - q_len if offset is None else offset
    for i in range(q_len):
        p = start + i
        lo = 0 if window is None else max(p - window + 1, 0)
        mask[i] = False
        mask[i, lo : max(min(p + 1, kv_len), lo)] = True
    return mask


def qkv(config: Config, seed: int, dtype: torch.dtype = torch.float32) -> list[Tensor]:
    b, h, hkv, q_len, kv_len, d = config[:6]
    g = torch.Generator().manual_seed(seed)
    shapes = [(b, h, q_len, d), (b, hkv, kv_len, d), (b, hkv, kv_len, d)]
    return [torch.randn(s, generator=g).to(dtype) for s in shapes]


def sdpa(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: float | None = None
) -> tuple[Tensor, Tensor]:
    """The peer in float64: (out, logsumexp of the scaled, masked scores)."""
    group = q.shape[1] // k.shape[1]
    q, k, v = (
        q.double(),
        k.double().repeat_interleave(group, 1),
        v.double().repeat_interleave(group, 1),
    )
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    s = (q @ k.transpose(-1, -2)) * (scale if scale is not None else q.shape[-1] ** -0.5)
    return out, torch.logsumexp(s.masked_fill(~mask, -math.inf), dim=-1)


def sdpa_grads(q: Tensor, k: Tensor, v: Tensor, dout: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
    leaves = [t.detach().double().requires_grad_() for t in (q, k, v)]
    out, _ = sdpa(leaves[0], leaves[1], leaves[2], mask)
    return torch.autograd.grad(out, leaves, dout.double())


def assert_close(got: Tensor, want: Tensor, tol: float) -> None:
    torch.testing.assert_close(got.double(), want.double(), atol=tol, rtol=tol)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_forward_equals_sdpa_and_logsumexp(config: Config) -> None:
    q, k, v = qkv(config, seed=1)
    causal, window, offset = config[6:]
    out, lse = flash_attention(q, k, v, causal=causal, window=window, offset=offset)
    want_out, want_lse = sdpa(q, k, v, window_mask(q.shape[2], k.shape[2], *config[6:]))
    assert out.dtype == torch.float32 and lse.dtype == torch.float32
    assert out.shape == q.shape and lse.shape == q.shape[:3]
    assert_close(out, want_out, 1e-5)
    assert_close(lse, want_lse, 1e-5)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_backward_equals_autograd_through_sdpa(config: Config) -> None:
    q, k, v = qkv(config, seed=2)
    dout = torch.randn(q.shape, generator=torch.Generator().manual_seed(3))
    causal, window, offset = config[6:]
    mask = window_mask(q.shape[2], k.shape[2], causal, window, offset)
    out, lse = flash_attention(q, k, v, causal=causal, window=window, offset=offset)
    grads = flash_attention_backward(
        q, k, v, out, lse, dout, causal=causal, window=window, offset=offset
    )
    for got, want, like in zip(grads, sdpa_grads(q, k, v, dout, mask), (q, k, v), strict=True):
        assert got.shape == like.shape and got.dtype == like.dtype
        assert_close(got, want, 1e-5)


def test_online_softmax_worked_example() -> None:
    q = torch.ones(1, 1, 1, 1)
    k = torch.tensor([1.0, 3.0, 2.0, 5.0]).view(1, 1, 4, 1)
    v = torch.tensor([10.0, 20.0, 30.0, 40.0]).view(1, 1, 4, 1)
    out, lse = flash_attention(q, k, v, block_q=1, block_k=2)
    assert float(out) == pytest.approx(36.88057, rel=1e-6)
    assert float(lse) == pytest.approx(5.185182, rel=1e-6)


def test_backward_worked_example() -> None:
    q = torch.ones(1, 1, 1, 1)
    k = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 2, 1)
    v = torch.tensor([0.0, 4.0]).view(1, 1, 2, 1)
    out, lse = flash_attention(q, k, v)
    assert float(out) == pytest.approx(3.0) and float(lse) == pytest.approx(math.log(4.0))
    dq, dk, dv = flash_attention_backward(q, k, v, out, lse, torch.ones(1, 1, 1, 1))
    assert float(dq) == pytest.approx(0.75 * math.log(3.0), rel=1e-6)
    assert dk.flatten().tolist() == pytest.approx([-0.75, 0.75], abs=1e-6)
    assert dv.flatten().tolist() == pytest.approx([0.25, 0.75], abs=1e-6)


@SETTINGS
@given(
    st.integers(1, 3),  # kv heads
    st.integers(1, 3),  # group
    st.integers(1, 30),  # q_len
    st.integers(0, 40),  # extra keys
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 45)),
    st.one_of(st.none(), st.integers(0, 50)),
    st.integers(1, 24),
    st.integers(1, 24),
)
def test_any_tiles_and_masks_give_sdpa_and_its_gradients(
    n_kv: int,
    group: int,
    q_len: int,
    extra: int,
    causal: bool,
    window: int | None,
    offset: int | None,
    block_q: int,
    block_k: int,
) -> None:
    window = window if causal else None
    config: Config = (1, n_kv * group, n_kv, q_len, q_len + extra, 8, causal, window, offset)
    q, k, v = qkv(config, seed=q_len * 100 + extra)
    dout = torch.randn(q.shape, generator=torch.Generator().manual_seed(extra))
    mask = window_mask(q_len, q_len + extra, causal, window, offset)
    kw: dict[str, Any] = {"causal": causal, "window": window, "offset": offset}
    out, lse = flash_attention(q, k, v, block_q=block_q, block_k=block_k, **kw)
    want_out, want_lse = sdpa(q, k, v, mask)
    assert_close(out, want_out, 1e-5)
    assert torch.equal(lse == -math.inf, want_lse == -math.inf)  # the empty rows
    assert_close(lse.nan_to_num(neginf=0.0), want_lse.nan_to_num(neginf=0.0), 1e-5)
    grads = flash_attention_backward(
        q, k, v, out, lse, dout, block_q=block_q, block_k=block_k, **kw
    )
    for got, want in zip(grads, sdpa_grads(q, k, v, dout, mask), strict=True):
        assert_close(got, want, 1e-5)


def test_empty_rows_give_zeros_lse_minus_inf_and_zero_gradients() -> None:
    config: Config = (1, 2, 1, 6, 4, 8, True, None, None)  # rows 0, 1 before every key
    q, k, v = qkv(config, seed=4)
    out, lse = flash_attention(q, k, v, causal=True)
    assert torch.equal(out[:, :, :2], torch.zeros(1, 2, 2, 8))
    assert (lse[:, :, :2] == -math.inf).all() and lse[:, :, 2:].isfinite().all()
    dq, dk, dv = flash_attention_backward(q, k, v, out, lse, torch.ones_like(q), causal=True)
    assert torch.equal(dq[:, :, :2], torch.zeros(1, 2, 2, 8))
    assert not any(t.isnan().any() for t in (dq, dk, dv))


def test_huge_scores_neither_overflow_nor_underflow() -> None:
    g = torch.Generator().manual_seed(5)
    q = torch.full((1, 1, 4, 16), 10.0)
    for sign in (1.0, -1.0):  # every score near +-400
        k = sign * torch.full((1, 1, 20, 16), 10.0) + torch.randn(1, 1, 20, 16, generator=g)
        v = torch.randn(1, 1, 20, 16, generator=g)
        out, lse = flash_attention(q, k, v, block_k=8)
        want_out, want_lse = sdpa(q, k, v, torch.ones(4, 20, dtype=torch.bool))
        assert_close(out, want_out, 1e-4)
        assert_close(lse, want_lse, 1e-5)


def test_bfloat16_accumulates_in_float32_and_returns_bfloat16() -> None:
    config: Config = (2, 4, 2, 64, 700, 32, True, None, None)
    q, k, v = qkv(config, seed=6, dtype=torch.bfloat16)
    dout = torch.randn(q.shape, generator=torch.Generator().manual_seed(7)).bfloat16()
    mask = window_mask(64, 700, True, None, None)
    out, lse = flash_attention(q, k, v, causal=True)
    want_out, want_lse = sdpa(q, k, v, mask)
    assert out.dtype == torch.bfloat16 and lse.dtype == torch.float32
    # Within half a bfloat16 step of the float64 answer, plus float32 rounding.
    torch.testing.assert_close(out.double(), want_out, atol=1e-3, rtol=2**-8)
    assert_close(lse, want_lse, 1e-5)
    grads = flash_attention_backward(q, k, v, out, lse, dout, causal=True)
    peer = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    sdpa_bf16 = F.scaled_dot_product_attention(
        peer[0], peer[1].repeat_interleave(2, 1), peer[2].repeat_interleave(2, 1), attn_mask=mask
    )
    peer_grads = torch.autograd.grad(sdpa_bf16, peer, dout)
    truth = sdpa_grads(q, k, v, dout, mask)
    for got, bf16_peer, want in zip(grads, peer_grads, truth, strict=True):
        assert got.dtype == torch.bfloat16
        ours = float((got.double() - want).abs().max())
        theirs = float((bf16_peer.double() - want).abs().max())
        assert ours <= 1.5 * theirs + 1e-3  # no worse than SDPA's own bfloat16 gradients


def test_tiles_that_the_mask_hides_are_skipped_not_just_masked() -> None:
    # A window of 8 over 1024 keys: each query tile meets at most 2 of the 8 key tiles.
    # Skipped tiles never reach the matmul, so NaN keys there cannot leak in.
    q, k, v = qkv((1, 1, 1, 1024, 1024, 8, True, 8, None), seed=8)
    k[:, :, :BLOCK_K] = math.nan  # keys 0..127: outside every window from query 256 on
    out, _ = flash_attention(q, k, v, causal=True, window=8)
    assert not out[:, :, 2 * BLOCK_Q :].isnan().any()
    assert out[:, :, :8].isnan().all()


def test_invalid_arguments_raise() -> None:
    q, k, v = qkv((1, 3, 2, 4, 4, 8, False, None, None), seed=9)
    with pytest.raises(ValueError, match="multiple"):
        flash_attention(q, k, v)
    q, k, v = qkv((1, 2, 2, 4, 4, 8, False, None, None), seed=9)
    for kwargs in ({"causal": True, "window": 0}, {"window": 3}, {"block_q": 0}):
        with pytest.raises(ValueError):
            flash_attention(q, k, v, **kwargs)  # type: ignore[arg-type]


# The engine's entry point ---------------------------------------------------------


def engine_layout(config: Config, seed: int, dtype: torch.dtype = torch.float32) -> list[Tensor]:
    """q, k, v as the engine holds them: [batch, seq, heads, head_dim]."""
    return [t.transpose(1, 2) for t in qkv(config, seed, dtype)]


@pytest.mark.parametrize(
    ("config", "window", "offset"),
    [
        ((2, 4, 2, 200, 300, 16, True, None, None), 50, 100),  # several tiles, ragged ends
        ((3, 8, 2, 1, 260, 16, True, None, None), 64, 259),  # a decode step
        ((1, 4, 4, 130, 130, 8, True, None, None), None, 0),  # causal prefill
    ],
    ids=str,
)
def test_masked_entry_point_equals_reference_attention(
    config: Config, window: int | None, offset: int
) -> None:
    q, k, v = engine_layout(config, seed=10)
    q_len, kv_len, batch = q.shape[1], k.shape[1], q.shape[0]
    mask = sliding_window_mask(q_len, kv_len, window, offset)
    want = attention(q, k, v, mask)
    for form in (mask, mask.expand(batch, q_len, kv_len), mask.expand(batch, 1, q_len, kv_len)):
        got = flash_attention_masked(q, k, v, form)
        assert got.shape == want.shape
        assert_close(got, want, 1e-5)


def test_masked_entry_point_with_padding_per_head_masks_and_no_mask() -> None:
    q, k, v = engine_layout((3, 4, 2, 140, 140, 8, False, None, None), seed=11)
    padded = padded_sliding_window_mask(torch.tensor([140, 7, 90]), 20)  # [3, 140, 140]
    assert_close(flash_attention_masked(q, k, v, padded), attention(q, k, v, padded), 1e-5)
    assert_close(flash_attention_masked(q, k, v), attention(q, k, v), 1e-5)
    g = torch.Generator().manual_seed(12)
    per_head = torch.rand(3, 4, 140, 140, generator=g) < 0.3
    per_head[..., 0] = True  # every row keeps a key
    assert_close(
        flash_attention_masked(q, k, v, per_head, scale=0.2),
        attention(q, k, v, per_head, scale=0.2),
        1e-5,
    )


def test_masked_entry_point_in_bfloat16() -> None:
    q, k, v = engine_layout(
        (2, 4, 1, 150, 150, 32, True, None, None), seed=13, dtype=torch.bfloat16
    )
    mask = sliding_window_mask(150, 150, 40)
    got = flash_attention_masked(q, k, v, mask)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, attention(q, k, v, mask), atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("cache", ["contiguous", "rolling", "paged"])
def test_engine_with_the_tiled_kernel_gives_the_reference_tokens(cache: CacheKind) -> None:
    torch.manual_seed(0)
    config = MistralConfig(
        hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=97, sliding_window=5, initializer_range=0.2,
    )  # fmt: skip
    hf: Any = MistralForCausalLM(config)
    hf.eval()
    model = from_state_dict(hf.config.to_dict(), hf.state_dict())
    g = torch.Generator().manual_seed(14)
    batch = [torch.randint(0, 97, (n,), generator=g).tolist() for n in (2, 9, 6)]
    calls = 0

    def counted(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, *,
                scale: float | None = None) -> Tensor:  # fmt: skip
        nonlocal calls
        calls += 1
        return flash_attention_masked(q, k, v, mask, scale=scale)

    want = generate(model, batch, 8, cache=cache)
    got = generate(model, batch, 8, cache=cache, components=Components(attention=counted))
    assert calls > 0, "the engine never called the tiled kernel"
    assert got == want


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_equals_cpu(dtype: torch.dtype) -> None:
    config: Config = (2, 4, 2, 150, 300, 16, True, 40, None)
    q, k, v = qkv(config, seed=15, dtype=dtype)
    dout = torch.randn(q.shape, generator=torch.Generator().manual_seed(16)).to(dtype)
    cpu = flash_attention(q, k, v, causal=True, window=40)
    gpu = flash_attention(q.cuda(), k.cuda(), v.cuda(), causal=True, window=40)
    assert gpu[0].is_cuda and gpu[1].is_cuda
    tol = 2e-2 if dtype == torch.bfloat16 else 1e-4
    for got, want in zip(gpu, cpu, strict=True):
        torch.testing.assert_close(got.cpu(), want, atol=tol, rtol=tol)
    cpu_grads = flash_attention_backward(q, k, v, *cpu, dout, causal=True, window=40)
    args = [t.cuda() for t in (q, k, v, *cpu, dout)]
    gpu_grads = flash_attention_backward(*args, causal=True, window=40)
    for got, want in zip(gpu_grads, cpu_grads, strict=True):
        torch.testing.assert_close(got.cpu(), want, atol=tol, rtol=tol)
    mask = sliding_window_mask(150, 300, 40, offset=150)
    eq, ek, ev = (t.transpose(1, 2) for t in (q, k, v))
    want_masked = flash_attention_masked(eq, ek, ev, mask)
    got_masked = flash_attention_masked(eq.cuda(), ek.cuda(), ev.cuda(), mask.cuda())
    torch.testing.assert_close(got_masked.cpu(), want_masked, atol=tol, rtol=tol)
