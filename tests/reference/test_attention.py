"""reference.attention and reference.rope against SDPA, a slow softmax, and transformers' Mistral."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from transformers import MistralConfig
from transformers.models.mistral.modeling_mistral import (
    MistralRotaryEmbedding,
    apply_rotary_pos_emb,
)

from reference.attention import attention
from reference.masks import padded_sliding_window_mask, sliding_window_mask
from reference.rope import apply_rope, rope_cos_sin, rope_frequencies

# (batch, q_len, kv_len, n_heads, n_kv_heads, head_dim, window, offset)
SHAPES = [
    (2, 7, 7, 4, 2, 8, 3, None),
    (1, 9, 9, 6, 6, 16, 4, None),
    (3, 1, 12, 8, 2, 8, 5, 11),  # decode step
    (2, 4, 10, 4, 1, 8, 6, 6),  # prefill chunk after a cache, multi-query
    (1, 5, 5, 4, 4, 4, 1, None),  # self only
]


def loop_mask(q_len: int, kv_len: int, window: int, offset: int) -> torch.Tensor:
    """The window rule written out, independent of reference.masks."""
    mask = torch.zeros(q_len, kv_len, dtype=torch.bool)
    for i in range(q_len):
        p = offset + i
        for j in range(kv_len):
            mask[i, j] = p - window < j <= p
    return mask


def slow_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v in float64, one query head at a time, GQA by index."""
    batch, q_len, n_heads, dim = q.shape
    group = n_heads // k.shape[2]
    out = torch.empty(batch, q_len, n_heads, dim, dtype=torch.float64)
    for b in range(batch):
        for h in range(n_heads):
            qh = q[b, :, h].double()  # [q_len, dim]
            kh = k[b, :, h // group].double()  # [kv_len, dim]
            vh = v[b, :, h // group].double()
            scores = qh @ kh.T / math.sqrt(dim)
            scores = scores.masked_fill(~mask, float("-inf"))
            out[b, :, h] = scores.softmax(dim=-1) @ vh
    return out


def random_qkv(
    batch: int, q_len: int, kv_len: int, n_heads: int, n_kv_heads: int, dim: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, q_len, n_heads, dim, generator=g)
    k = torch.randn(batch, kv_len, n_kv_heads, dim, generator=g)
    v = torch.randn(batch, kv_len, n_kv_heads, dim, generator=g)
    return q, k, v


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_attention_equals_sdpa_with_repeated_kv_heads_and_a_loop_mask(
    shape: tuple[int, int, int, int, int, int, int, int | None],
) -> None:
    batch, q_len, kv_len, n_heads, n_kv_heads, dim, window, offset = shape
    offset = kv_len - q_len if offset is None else offset
    q, k, v = random_qkv(batch, q_len, kv_len, n_heads, n_kv_heads, dim)
    ours = attention(q, k, v, sliding_window_mask(q_len, kv_len, window, offset))
    group = n_heads // n_kv_heads
    expected = F.scaled_dot_product_attention(
        q.transpose(1, 2),
        k.transpose(1, 2).repeat_interleave(group, dim=1),
        v.transpose(1, 2).repeat_interleave(group, dim=1),
        attn_mask=loop_mask(q_len, kv_len, window, offset),
    ).transpose(1, 2)
    assert ours.shape == (batch, q_len, n_heads, dim)
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_attention_equals_a_slow_explicit_softmax(
    shape: tuple[int, int, int, int, int, int, int, int | None],
) -> None:
    batch, q_len, kv_len, n_heads, n_kv_heads, dim, window, offset = shape
    offset = kv_len - q_len if offset is None else offset
    q, k, v = random_qkv(batch, q_len, kv_len, n_heads, n_kv_heads, dim, seed=1)
    mask = loop_mask(q_len, kv_len, window, offset)
    ours = attention(q, k, v, sliding_window_mask(q_len, kv_len, window, offset))
    torch.testing.assert_close(ours.double(), slow_attention(q, k, v, mask), atol=1e-5, rtol=1e-5)


def test_query_head_h_reads_kv_head_h_over_group() -> None:
    # 6 query heads, 2 kv heads: heads 0-2 read kv head 0, heads 3-5 kv head 1.
    # Values are constant per kv head, so each output head is that constant.
    q, k, _ = random_qkv(1, 3, 3, 6, 2, 4)
    v = torch.zeros(1, 3, 2, 4)
    v[:, :, 1] = 1.0
    out = attention(q, k, v, sliding_window_mask(3, 3, None))
    per_head = out[0, :, :, 0].mean(dim=0)  # [n_heads]
    torch.testing.assert_close(per_head, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]))


def test_two_three_and_four_dimensional_masks_agree() -> None:
    q, k, v = random_qkv(2, 5, 8, 4, 2, 8)
    mask = sliding_window_mask(5, 8, 3, offset=3)
    two = attention(q, k, v, mask)
    three = attention(q, k, v, mask.expand(2, 5, 8))
    four = attention(q, k, v, mask.expand(2, 1, 5, 8))
    torch.testing.assert_close(two, three)
    torch.testing.assert_close(two, four)


def test_no_mask_attends_every_key() -> None:
    q, k, v = random_qkv(1, 4, 6, 2, 1, 8)
    everything = torch.ones(4, 6, dtype=torch.bool)
    torch.testing.assert_close(
        attention(q, k, v).double(), slow_attention(q, k, v, everything), atol=1e-5, rtol=1e-5
    )


def test_padded_batch_rows_equal_each_sequence_alone() -> None:
    lengths = [6, 2, 4]
    q, k, v = random_qkv(3, 6, 6, 4, 2, 8, seed=2)
    out = attention(q, k, v, padded_sliding_window_mask(torch.tensor(lengths), 3))
    for b, n in enumerate(lengths):
        alone = attention(
            q[b : b + 1, :n], k[b : b + 1, :n], v[b : b + 1, :n], sliding_window_mask(n, n, 3)
        )
        torch.testing.assert_close(out[b : b + 1, :n], alone)
    assert not out.isnan().any()


def test_explicit_scale_replaces_one_over_sqrt_head_dim() -> None:
    q, k, v = random_qkv(1, 3, 3, 2, 2, 4)
    mask = sliding_window_mask(3, 3, None)
    # scale s on q equals the default 1/sqrt(4) on q * s * sqrt(4).
    torch.testing.assert_close(attention(q, k, v, mask, scale=0.3), attention(q * 0.6, k, v, mask))


def one_query_masks(batch: int, kv_len: int) -> list[torch.Tensor | None]:
    """Every mask form a decode step may pass: none, 2-D, 3-D, 4-D, per-row."""
    window = sliding_window_mask(1, kv_len, 5, offset=kv_len - 1)  # [1, kv_len]
    per_row = torch.rand(batch, 1, 1, kv_len, generator=torch.Generator().manual_seed(3)) < 0.6
    per_row[..., -1] = True  # every row keeps a key
    return [None, window, window.expand(batch, 1, kv_len), window.expand(batch, 1, 1, kv_len),
            per_row]  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_one_query_under_compile_equals_the_fused_kernel(
    dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    q, k, v = (t.to(dtype) for t in random_qkv(3, 1, 12, 8, 2, 16, seed=4))
    fused = [attention(q, k, v, mask) for mask in one_query_masks(3, 12)]
    # What torch.compile traces: the products-and-sums form (see reference.attention).
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    for mask, want in zip(one_query_masks(3, 12), fused, strict=True):
        got = attention(q, k, v, mask)
        assert got.dtype == dtype and got.shape == want.shape
        tol = 1e-5 if dtype == torch.float32 else 1e-2
        torch.testing.assert_close(got, want, atol=tol, rtol=tol)


def test_compiled_one_query_attention_traces_no_fused_attention_kernel() -> None:
    traced: list[torch.fx.GraphModule] = []

    def backend(gm: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> object:
        traced.append(gm)
        return gm.forward  # run the traced graph as it is: no inductor needed

    q, k, v = random_qkv(2, 1, 9, 4, 2, 8, seed=5)
    mask = one_query_masks(2, 9)[3]
    got = torch.compile(attention, backend=backend, fullgraph=True)(q, k, v, mask)
    torch.testing.assert_close(got, attention(q, k, v, mask), atol=1e-5, rtol=1e-5)
    (graph,) = traced
    ops = {str(node.target) for node in graph.graph.nodes if node.op == "call_function"}
    assert not any("scaled_dot_product" in op for op in ops), ops
    assert any("softmax" in op for op in ops), ops


def test_heads_not_a_multiple_of_kv_heads_raise() -> None:
    q, k, v = random_qkv(1, 2, 2, 3, 2, 4)
    with pytest.raises(ValueError, match="multiple"):
        attention(q, k, v)


# RoPE ---------------------------------------------------------------------------


def mistral_rotary(head_dim: int, theta: float) -> MistralRotaryEmbedding:
    config = MistralConfig(
        vocab_size=32,
        hidden_size=4 * head_dim,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=head_dim,
        rope_parameters={"rope_type": "default", "rope_theta": theta},
    )
    return MistralRotaryEmbedding(config)


@pytest.mark.parametrize("head_dim,theta", [(8, 10000.0), (16, 1e6), (64, 500.0)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rope_equals_transformers_mistral(head_dim: int, theta: float, dtype: torch.dtype) -> None:
    torch.manual_seed(3)
    batch, seq, n_heads, n_kv_heads = 2, 11, 4, 2
    positions = torch.arange(seq)[None, :] + torch.tensor([[0], [37]])  # second row: after a cache
    q = torch.randn(batch, seq, n_heads, head_dim, dtype=dtype)
    k = torch.randn(batch, seq, n_kv_heads, head_dim, dtype=dtype)

    rotary = mistral_rotary(head_dim, theta)
    hf_cos, hf_sin = rotary(q, positions)  # [batch, seq, head_dim]
    # transformers' attention holds q, k as [batch, heads, seq, head_dim].
    hf_q, hf_k = apply_rotary_pos_emb(q.transpose(1, 2), k.transpose(1, 2), hf_cos, hf_sin)

    cos, sin = rope_cos_sin(positions, head_dim, theta, dtype)
    assert torch.equal(cos, hf_cos) and torch.equal(sin, hf_sin)
    ours_q, ours_k = apply_rope(q, k, cos, sin)
    assert ours_q.dtype == dtype
    assert torch.equal(ours_q, hf_q.transpose(1, 2))
    assert torch.equal(ours_k, hf_k.transpose(1, 2))


def test_rope_with_shared_positions_broadcasts_over_the_batch() -> None:
    q, k, _ = random_qkv(3, 5, 5, 4, 2, 8)
    cos, sin = rope_cos_sin(torch.arange(5), 8, 10000.0)  # [seq, head_dim]
    batched = rope_cos_sin(torch.arange(5).expand(3, 5), 8, 10000.0)
    torch.testing.assert_close(apply_rope(q, k, cos, sin), apply_rope(q, k, *batched))


def test_rope_worked_example_head_dim_four() -> None:
    # Frequencies [1, 0.01]; at position 2, x = e0 rotates to (cos 2, 0, sin 2, 0).
    assert torch.equal(rope_frequencies(4, 10000.0), torch.tensor([1.0, 0.01]))
    cos, sin = rope_cos_sin(torch.tensor([2]), 4, 10000.0)
    x = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 1, 4)
    rotated, _ = apply_rope(x, x, cos, sin)
    expected = torch.tensor([math.cos(2.0), 0.0, math.sin(2.0), 0.0])
    torch.testing.assert_close(rotated.flatten(), expected)


def test_rope_scores_depend_only_on_relative_position() -> None:
    g = torch.Generator().manual_seed(4)
    q = torch.randn(1, 1, 1, 16, generator=g, dtype=torch.float64)
    k = torch.randn(1, 1, 1, 16, generator=g, dtype=torch.float64)

    def score(p_q: int, p_k: int) -> float:
        cq, sq = rope_cos_sin(torch.tensor([p_q]), 16, 10000.0, torch.float64)
        ck, sk = rope_cos_sin(torch.tensor([p_k]), 16, 10000.0, torch.float64)
        rq, _ = apply_rope(q, q, cq, sq)
        _, rk = apply_rope(k, k, ck, sk)
        return float((rq * rk).sum())

    assert score(7, 3) == pytest.approx(score(104, 100), abs=1e-5)
    assert score(7, 3) != pytest.approx(score(7, 4), abs=1e-3)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_attention_and_rope_on_cuda_equal_cpu(dtype: torch.dtype) -> None:
    for batch, q_len, kv_len, n_heads, n_kv_heads, dim, window, offset in SHAPES:
        offset = kv_len - q_len if offset is None else offset
        q, k, v = (t.to(dtype) for t in random_qkv(batch, q_len, kv_len, n_heads, n_kv_heads, dim))
        mask = sliding_window_mask(q_len, kv_len, window, offset)
        cpu = attention(q, k, v, mask)
        gpu = attention(q.cuda(), k.cuda(), v.cuda(), mask.cuda())
        assert gpu.is_cuda
        tol = 2e-2 if dtype == torch.bfloat16 else 1e-4
        torch.testing.assert_close(gpu.cpu(), cpu, atol=tol, rtol=tol)
    positions = torch.arange(9)
    cos, sin = rope_cos_sin(positions.cuda(), 16, 1e6, dtype)
    assert cos.is_cuda
    ref_cos, ref_sin = rope_cos_sin(positions, 16, 1e6, dtype)
    torch.testing.assert_close(cos.cpu(), ref_cos, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(sin.cpu(), ref_sin, atol=1e-6, rtol=1e-6)
