"""reference.rope_decode against transformers: Mistral's rotary embedding and attention
(the half layout, its eager and SDPA attention, a decode step through its DynamicCache)
and Cohere's rotary embedding (the interleaved layout, as the RoPE paper pairs entries);
the interleaved layout also against the paper's complex-number form, and the weight
conversion against its row rule written as a loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from torch.profiler import ProfilerActivity, profile
from transformers import CohereConfig, MistralConfig
from transformers.cache_utils import DynamicCache, DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.models.cohere.modeling_cohere import CohereRotaryEmbedding
from transformers.models.cohere.modeling_cohere import (
    apply_rotary_pos_emb as cohere_apply_untyped,
)
from transformers.models.mistral.modeling_mistral import (
    MistralAttention,
    MistralRotaryEmbedding,
    eager_attention_forward,
)
from transformers.models.mistral.modeling_mistral import (
    apply_rotary_pos_emb as mistral_apply_untyped,
)

from reference.attention import attention
from reference.rope_decode import (
    apply_rope_half,
    apply_rope_interleaved,
    decode_attention,
    decode_step,
    half_to_interleaved,
    interleaved_to_half,
)

# transformers' functions carry no annotations: what they take and return, for mypy.
ApplyRotary = Callable[..., tuple[Tensor, Tensor]]
mistral_apply_rotary = cast(ApplyRotary, mistral_apply_untyped)
cohere_apply_rotary = cast(ApplyRotary, cohere_apply_untyped)

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=30)


def randn(*shape: int, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


def mistral_config(n_heads: int, n_kv_heads: int, head_dim: int, base: float) -> MistralConfig:
    config = MistralConfig(
        hidden_size=n_heads * head_dim,
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv_heads,
        head_dim=head_dim,
        rope_parameters={"rope_type": "default", "rope_theta": base},
        sliding_window=None,
    )
    config._attn_implementation = "eager"
    return config


def positions(batch: int, seq: int, offset: int | Tensor) -> Tensor:
    return torch.as_tensor(offset).reshape(-1, 1).expand(batch, 1) + torch.arange(seq)


def mistral_rope(x: Tensor, offset: int | Tensor, base: float) -> Tensor:
    """transformers' half layout on x [batch, seq, heads, head_dim]."""
    rotary = MistralRotaryEmbedding(mistral_config(x.shape[2], x.shape[2], x.shape[3], base))
    cos, sin = rotary(x, positions(x.shape[0], x.shape[1], offset))
    out, _ = mistral_apply_rotary(x, x, cos, sin, unsqueeze_dim=2)
    return out


def cohere_rope(x: Tensor, offset: int | Tensor, base: float) -> Tensor:
    """transformers' interleaved layout (Cohere's rotate_half pairs x[2i], x[2i+1])."""
    config = CohereConfig(
        hidden_size=x.shape[2] * x.shape[3],
        num_attention_heads=x.shape[2],
        rope_parameters={"rope_type": "default", "rope_theta": base},
    )
    cos, sin = CohereRotaryEmbedding(config)(x, positions(x.shape[0], x.shape[1], offset))
    out, _ = cohere_apply_rotary(x, x, cos, sin, unsqueeze_dim=2)
    return out


def complex_rope(x: Tensor, offset: int | Tensor, base: float) -> Tensor:
    """The paper's form: pair (x[2i], x[2i+1]) is the complex number x[2i] + i x[2i+1],
    multiplied by e^(i * position * theta_i); in float64."""
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    pos = positions(x.shape[0], x.shape[1], offset).double()
    rotor = torch.polar(torch.ones((), dtype=torch.float64), pos[..., None] * theta)[
        :, :, None
    ]  # [b, s, 1, d/2]
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(z * rotor).flatten(-2)


# -- RoPE --------------------------------------------------------------------------------


@SETTINGS
@given(
    st.integers(1, 3),
    st.integers(1, 5),
    st.sampled_from([2, 8, 64, 128]),
    st.sampled_from([10000.0, 1e6]),
    st.integers(0, 5000),
    st.booleans(),
    st.integers(0, 2**31 - 1),
)
def test_half_layout_matches_transformers_mistral(
    batch: int, seq: int, head_dim: int, base: float, start: int, ragged: bool, seed: int
) -> None:
    x = randn(batch, seq, 3, head_dim, seed=seed)
    offset: int | Tensor = start
    if ragged:
        offset = torch.randint(0, 5000, (batch,), generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(
        apply_rope_half(x, offset, base), mistral_rope(x, offset, base), rtol=1e-5, atol=1e-5
    )


@SETTINGS
@given(
    st.integers(1, 3),
    st.integers(1, 5),
    st.sampled_from([2, 8, 64, 128]),
    st.sampled_from([10000.0, 1e6]),
    st.integers(0, 5000),
    st.integers(0, 2**31 - 1),
)
def test_interleaved_layout_matches_transformers_cohere_and_the_complex_form(
    batch: int, seq: int, head_dim: int, base: float, start: int, seed: int
) -> None:
    x = randn(batch, seq, 3, head_dim, seed=seed)
    ours = apply_rope_interleaved(x, start, base)
    torch.testing.assert_close(ours, cohere_rope(x, start, base), rtol=1e-5, atol=1e-5)
    # float32 angles at positions up to 5000 are within 5000 * 2^-24 rad of float64's.
    torch.testing.assert_close(ours.double(), complex_rope(x, start, base), rtol=0, atol=2e-3)


def test_worked_example_of_both_layouts() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    c1, s1, c2, s2 = math.cos(1), math.sin(1), math.cos(0.01), math.sin(0.01)
    half = [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2]
    inter = [1 * c1 - 2 * s1, 2 * c1 + 1 * s1, 3 * c2 - 4 * s2, 4 * c2 + 3 * s2]
    torch.testing.assert_close(apply_rope_half(x, 1).flatten(), torch.tensor(half))
    torch.testing.assert_close(apply_rope_interleaved(x, 1).flatten(), torch.tensor(inter))


@pytest.mark.parametrize(
    ("rope", "peer"), [(apply_rope_half, mistral_rope), (apply_rope_interleaved, cohere_rope)]
)
def test_bfloat16_activations_still_get_float32_angles(
    rope: Callable[[Tensor, int], Tensor], peer: Callable[[Tensor, int, float], Tensor]
) -> None:
    """At position 4000 a bfloat16 angle is off by radians; ours is off by bf16 rounding."""
    x = randn(2, 3, 4, 64, seed=1).bfloat16()
    got = rope(x, 4000)
    assert got.dtype == torch.bfloat16
    exact = peer(x.float(), 4000, 10000.0)  # float32 throughout
    assert float((got.float() - exact).abs().max()) < 0.05


def test_bfloat16_matches_transformers_within_its_own_rounding() -> None:
    x = randn(2, 3, 4, 64, seed=2).bfloat16()
    theirs = mistral_rope(x, 300, 10000.0)  # cos, sin cast to bf16, products in bf16
    assert theirs.dtype == torch.bfloat16
    torch.testing.assert_close(apply_rope_half(x, 300).float(), theirs.float(), rtol=0, atol=0.05)


# -- the weight conversion ---------------------------------------------------------------


def loop_interleaved_to_half(w: Tensor, n_heads: int) -> Tensor:
    """The conversion script's rule, row by row: half row j <- interleaved row 2j, half
    row d/2 + j <- interleaved row 2j + 1, inside each head."""
    d = w.shape[0] // n_heads
    out = torch.empty_like(w)
    for h in range(n_heads):
        for j in range(d // 2):
            out[h * d + j] = w[h * d + 2 * j]
            out[h * d + d // 2 + j] = w[h * d + 2 * j + 1]
    return out


def test_conversion_worked_example() -> None:
    rows = torch.arange(16.0)[:, None]
    assert interleaved_to_half(rows, 2).flatten().int().tolist() == [
        0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15,
    ]  # fmt: skip
    assert half_to_interleaved(rows, 2).flatten().int().tolist() == [
        0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15,
    ]  # fmt: skip


@SETTINGS
@given(st.integers(1, 4), st.sampled_from([2, 4, 8, 16]), st.integers(1, 5), st.integers(0, 99))
def test_conversion_follows_the_row_rule_and_inverts(
    n_heads: int, head_dim: int, cols: int, seed: int
) -> None:
    w = randn(n_heads * head_dim, cols, seed=seed)
    half = interleaved_to_half(w, n_heads)
    assert torch.equal(half, loop_interleaved_to_half(w, n_heads))
    assert torch.equal(half_to_interleaved(half, n_heads), w)


def test_rotating_converted_projections_equals_converting_rotated_ones() -> None:
    """apply_rope_half(x @ interleaved_to_half(w).T) is apply_rope_interleaved(x @ w.T)
    with each head's entries permuted the same way (rows of an identity matrix)."""
    n_heads, head_dim, dim = 4, 16, 24
    w = randn(n_heads * head_dim, dim, seed=3)
    x = randn(2, 5, dim, seed=4)
    half = mistral_rope(
        (x @ interleaved_to_half(w, n_heads).T).view(*x.shape[:-1], n_heads, -1), 7, 1e4
    )
    inter = cohere_rope((x @ w.T).view(*x.shape[:-1], n_heads, -1), 7, 1e4)
    permute = interleaved_to_half(torch.eye(head_dim), 1)  # row r picks entry order[r]
    torch.testing.assert_close(half, inter @ permute.T, rtol=1e-5, atol=1e-5)


def test_converted_weights_make_transformers_mistral_the_interleaved_model() -> None:
    """Meta-layout wq, wk with interleaved RoPE give the same attention output as
    transformers' MistralAttention loaded with the converted weights."""
    n_heads, n_kv_heads, head_dim, seq = 8, 2, 16, 9
    config = mistral_config(n_heads, n_kv_heads, head_dim, 1e4)
    module = MistralAttention(config, 0).eval()
    dim = config.hidden_size
    wq = randn(n_heads * head_dim, dim, seed=5) / math.sqrt(dim)
    wk = randn(n_kv_heads * head_dim, dim, seed=6) / math.sqrt(dim)
    wv = randn(n_kv_heads * head_dim, dim, seed=7) / math.sqrt(dim)
    wo = randn(dim, n_heads * head_dim, seed=8) / math.sqrt(dim)
    with torch.no_grad():
        module.q_proj.weight.copy_(interleaved_to_half(wq, n_heads))
        module.k_proj.weight.copy_(interleaved_to_half(wk, n_kv_heads))
        module.v_proj.weight.copy_(wv)
        module.o_proj.weight.copy_(wo)
        x = randn(1, seq, dim, seed=9) * 3
        cos, sin = MistralRotaryEmbedding(config)(x, torch.arange(seq)[None])
        causal = torch.full((seq, seq), float("-inf")).triu(1)[None, None]
        theirs, _ = module(x, (cos, sin), causal)
    q = cohere_rope((x @ wq.T).view(*x.shape[:-1], n_heads, -1), 0, 1e4)
    k = cohere_rope((x @ wk.T).view(*x.shape[:-1], n_kv_heads, -1), 0, 1e4)
    v = (x @ wv.T).view(*x.shape[:-1], n_kv_heads, -1)
    mask = torch.ones(seq, seq, dtype=torch.bool).tril()
    ours = attention(q, k, v, mask).reshape(1, seq, -1) @ wo.T
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


# -- decode attention --------------------------------------------------------------------


def ragged_cache(
    batch: int, n_kv_heads: int, max_len: int, head_dim: int, lengths: list[int], seed: int
) -> tuple[Tensor, Tensor]:
    """Caches whose slots at and past each length hold large stale values."""
    k = randn(batch, n_kv_heads, max_len, head_dim, seed=seed)
    v = randn(batch, n_kv_heads, max_len, head_dim, seed=seed + 1)
    for b, n in enumerate(lengths):
        k[b, :, n:] = 50.0
        v[b, :, n:] = -1e3
    return k, v


class _Module(torch.nn.Module):
    """What transformers' attention functions read from the attention module."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.num_key_value_groups = group
        self.is_causal = False
        self.training = False


def padding_mask(lengths: list[int], max_len: int) -> Tensor:
    """transformers' additive mask [batch, 1, 1, max_len]: 0 where valid, -inf past."""
    valid = torch.arange(max_len)[None] < torch.tensor(lengths)[:, None]
    return torch.zeros(valid.shape).masked_fill(~valid, float("-inf"))[:, None, None]


@pytest.mark.parametrize(
    ("batch", "n_heads", "n_kv_heads", "max_len", "head_dim", "lengths"),
    [
        (3, 8, 2, 20, 16, [20, 7, 1]),
        (2, 32, 4, 64, 32, [33, 64]),
        (1, 4, 4, 5, 8, [3]),  # multi-head attention: a group of 1
        (2, 6, 1, 9, 4, [9, 2]),  # multi-query attention
    ],
)
@pytest.mark.parametrize("peer", [eager_attention_forward, sdpa_attention_forward])
def test_decode_attention_matches_transformers_with_a_padding_mask(
    batch: int,
    n_heads: int,
    n_kv_heads: int,
    max_len: int,
    head_dim: int,
    lengths: list[int],
    peer: Callable[..., tuple[Tensor, Tensor | None]],
) -> None:
    k, v = ragged_cache(batch, n_kv_heads, max_len, head_dim, lengths, seed=10)
    q = randn(batch, n_heads, head_dim, seed=12)
    module = _Module(n_heads // n_kv_heads)
    theirs, _ = peer(
        module, q[:, :, None], k, v, padding_mask(lengths, max_len), scaling=head_dim**-0.5
    )  # [batch, 1, n_heads, head_dim]
    ours = decode_attention(q, k, v, torch.tensor(lengths))
    torch.testing.assert_close(ours, theirs[:, 0], rtol=1e-5, atol=1e-5)


def test_decode_attention_in_bfloat16_computes_in_float32() -> None:
    """Scores near 100 are 0.5 apart in bfloat16; these two differ by 0.03 in float32."""
    q = torch.tensor([[[16.0, 1.0, 0.0, 0.0]]], dtype=torch.bfloat16)  # scale 1/2
    k = torch.tensor([[[[12.5, 0.46875, 0, 0], [12.5, 0.53125, 0, 0]]]], dtype=torch.bfloat16)
    v = torch.tensor([[[[0.0, 0, 0, 0], [1.0, 0, 0, 0]]]], dtype=torch.bfloat16)
    out = decode_attention(q, k, v, torch.tensor([2]))
    assert out.dtype == torch.bfloat16
    # float32 scores 100.234375 and 100.265625: weight of key 1 is sigmoid(0.03125).
    expected = 1 / (1 + math.exp(-0.03125))
    assert abs(float(out[0, 0, 0]) - expected) < 4e-3
    # transformers' eager attention multiplies in bfloat16: its scores round to 100, 100.5.
    theirs, _ = eager_attention_forward(_Module(1), q[:, :, None], k, v, None, scaling=0.5)
    assert abs(float(theirs[0, 0, 0, 0]) - 1 / (1 + math.exp(-0.5))) < 4e-3


def test_decode_attention_multiplies_the_cache_in_place() -> None:
    """No allocation of the cache's size: the 32 query heads read 4 kv heads unrepeated."""
    k = randn(2, 4, 4096, 128, seed=13)
    v = randn(2, 4, 4096, 128, seed=14)
    q = randn(2, 32, 128, seed=15)
    lengths = torch.tensor([4000, 2500])
    decode_attention(q, k, v, lengths)  # warm-up
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        decode_attention(q, k, v, lengths)
    largest = max(e.cpu_memory_usage for e in prof.events())
    assert largest < k.numel() * k.element_size() // 8


# -- a decode step -----------------------------------------------------------------------


@pytest.mark.parametrize("interleaved", [False, True])
def test_decode_step_matches_transformers_mistral_with_its_dynamic_cache(
    interleaved: bool,
) -> None:
    """Each sequence prefills its own prompt length through transformers' DynamicCache,
    then decodes one token; ours decodes the batch at once from the same cached keys.
    For the interleaved layout, transformers runs the converted weights."""
    n_heads, n_kv_heads, head_dim, max_len, base = 8, 2, 16, 12, 1e6
    prompts = [7, 1, 11]
    config = mistral_config(n_heads, n_kv_heads, head_dim, base)
    module = MistralAttention(config, 0).eval()
    dim = config.hidden_size
    wq = randn(n_heads * head_dim, dim, seed=16) / math.sqrt(dim)
    wk = randn(n_kv_heads * head_dim, dim, seed=17) / math.sqrt(dim)
    convert = interleaved_to_half if interleaved else (lambda w, _n: w)
    with torch.no_grad():
        module.q_proj.weight.copy_(convert(wq, n_heads))
        module.k_proj.weight.copy_(convert(wk, n_kv_heads))
    rotary = MistralRotaryEmbedding(config)
    batch = len(prompts)
    k_cache = torch.full((batch, n_kv_heads, max_len, head_dim), 7.0)  # stale everywhere
    v_cache = torch.full((batch, n_kv_heads, max_len, head_dim), -7.0)
    x_new = randn(batch, dim, seed=18) * 3
    expected = []
    with torch.no_grad():
        for b, n in enumerate(prompts):
            x = torch.cat([randn(1, n, dim, seed=19 + b) * 3, x_new[None, b : b + 1]], dim=1)
            cos, sin = rotary(x, torch.arange(n + 1)[None])
            cache = DynamicCache(config=config)
            causal = torch.full((n, n), float("-inf")).triu(1)[None, None]
            module(x[:, :n], (cos[:, :n], sin[:, :n]), causal, cache=cache)
            layer = cache.layers[0]
            assert isinstance(layer, DynamicLayer)
            keys, values = layer.keys, layer.values  # [1, n_kv, n, d]
            assert keys is not None and values is not None
            if interleaved:  # our cache holds the interleaved model's keys
                keys = keys @ interleaved_to_half(torch.eye(head_dim), 1)
            k_cache[b, :, :n], v_cache[b, :, :n] = keys[0], values[0]
            out, _ = module(x[:, n:], (cos[:, n:], sin[:, n:]), None, cache=cache)
            expected.append(out[0, 0])
        q = (x_new @ wq.T).view(batch, n_heads, head_dim)
        k = (x_new @ wk.T).view(batch, n_kv_heads, head_dim)
        v = (x_new @ module.v_proj.weight.T).view(batch, n_kv_heads, head_dim)
        lengths = torch.tensor(prompts)
        ours = decode_step(q, k, v, k_cache, v_cache, lengths, base, interleaved)
        ours = ours.reshape(batch, -1) @ module.o_proj.weight.T
    torch.testing.assert_close(ours, torch.stack(expected), rtol=1e-4, atol=1e-5)
    assert lengths.tolist() == prompts, "decode_step leaves lengths to the caller"
    for b, n in enumerate(prompts):  # the new key and value went to index n
        rotated = (apply_rope_interleaved if interleaved else apply_rope_half)(
            k[b][None, None], n, base
        )[0, 0]
        torch.testing.assert_close(k_cache[b, :, n], rotated)
        torch.testing.assert_close(v_cache[b, :, n], v[b])
        assert (k_cache[b, :, n + 1 :] == 7.0).all(), "slots past the new token are untouched"
