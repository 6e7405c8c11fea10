"""reference.masks against transformers 5's own mask builders and hand-worked grids.

transformers builds its masks through `masking_utils`: `sdpa_mask` evaluates a mask
function (here `sliding_window_causal_mask_function(W)`, its Mistral rule) over query
and key indices with a query offset; `create_sliding_window_causal_mask` is what
`MistralModel` calls, from a config, a 2-D padding mask and a KV cache. We build its
masks only through those public functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import DynamicCache, MistralConfig
from transformers.masking_utils import (
    causal_mask_function,
    create_sliding_window_causal_mask,
    sdpa_mask,
    sliding_window_causal_mask_function,
)

from reference.masks import (
    causal_mask,
    padded_sliding_window_mask,
    sliding_window_mask,
    to_additive,
)

WINDOWS = [1, 2, 3, 4, 7, 16, None]
OFFSETS = [0, 1, 3, 4, 8, 21]
Q_LENS = [1, 2, 5, 9]


def grid(rows: str) -> torch.Tensor:
    """A mask drawn by hand: one string per query row, 'x' allowed, '.' not."""
    return torch.tensor([[c == "x" for c in row.split()] for row in rows.strip().splitlines()])


def transformers_mask(q_len: int, kv_len: int, window: int | None, offset: int) -> torch.Tensor:
    """transformers' SDPA mask `[q_len, kv_len]`, queries starting at position `offset`."""
    fn = causal_mask_function if window is None else sliding_window_causal_mask_function(window)
    mask = sdpa_mask(
        batch_size=1,
        q_length=q_len,
        kv_length=kv_len,
        q_offset=offset,
        mask_function=fn,
        allow_is_causal_skip=False,  # always materialise, even when plain causal
    )
    assert mask is not None
    return mask[0, 0]


def tiny_config(window: int) -> MistralConfig:
    config = MistralConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=4,
        sliding_window=window,
    )
    config._attn_implementation = "sdpa"
    return config


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("offset", OFFSETS)
def test_sliding_window_mask_equals_transformers_sdpa_mask(window: int | None, offset: int) -> None:
    for q_len in Q_LENS:
        # kv_len = offset + q_len is the usual case; longer kv (a preallocated
        # cache) and shorter kv (a window of the cache) must follow the same rule.
        for kv_len in sorted({offset + q_len, offset + q_len + 3, max(1, offset)}):
            ours = sliding_window_mask(q_len, kv_len, window, offset)
            theirs = transformers_mask(q_len, kv_len, window, offset)
            assert torch.equal(ours, theirs), (q_len, kv_len, window, offset)


@pytest.mark.parametrize("window", [1, 2, 3, 5])
@pytest.mark.parametrize("offset", [1, 2, 4, 9])
@pytest.mark.parametrize("q_len", [1, 3])
def test_chunk_after_cache_equals_transformers_model_mask(
    window: int, offset: int, q_len: int
) -> None:
    # What MistralModel builds for a chunk after `offset` cached tokens. Its sliding
    # cache keeps only the last window-1 keys, so its columns are positions
    # kv_offset .. kv_offset+kv_len-1: the same columns of our full-cache mask.
    config = tiny_config(window)
    cache = DynamicCache(config=config)
    past = torch.randn(1, config.num_key_value_heads, offset, 4)  # head_dim 4
    cache.update(past, past, 0)
    kv_len, kv_offset = cache.get_mask_sizes(q_len, 0)
    embeds = torch.zeros(1, q_len, config.hidden_size)
    theirs = create_sliding_window_causal_mask(
        config, embeds, None, cache, allow_is_causal_skip=False
    )
    assert isinstance(theirs, torch.Tensor)
    ours = sliding_window_mask(q_len, offset + q_len, window, offset)
    assert torch.equal(ours[:, kv_offset : kv_offset + kv_len], theirs[0, 0])


@pytest.mark.parametrize("window", [1, 2, 3, 6, 64])
def test_padded_real_rows_equal_transformers_model_mask(window: int) -> None:
    lengths = [7, 1, 4, 0, 6]
    seq = max(lengths)
    padding = torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]  # [batch, seq]
    config = tiny_config(window)
    embeds = torch.zeros(len(lengths), seq, config.hidden_size)
    theirs = create_sliding_window_causal_mask(
        config, embeds, padding.long(), None, allow_is_causal_skip=False
    )
    assert isinstance(theirs, torch.Tensor)
    ours = padded_sliding_window_mask(torch.tensor(lengths), window)
    assert ours.shape == (len(lengths), seq, seq)
    for b, n in enumerate(lengths):
        # transformers masks padding keys and leaves padding rows to the caller;
        # real rows must agree exactly.
        assert torch.equal(ours[b, :n], theirs[b, 0, :n]), b


def test_module_docstring_example_chunk_after_three_cached_tokens() -> None:
    expected = grid(
        """
        . x x x . .
        . . x x x .
        . . . x x x
        """
    )
    assert torch.equal(sliding_window_mask(3, 6, 3, offset=3), expected)


def test_window_three_prefill_drawn_by_hand() -> None:
    expected = grid(
        """
        x . . . .
        x x . . .
        x x x . .
        . x x x .
        . . x x x
        """
    )
    assert torch.equal(sliding_window_mask(5, 5, 3), expected)


def test_window_one_is_self_only() -> None:
    assert torch.equal(sliding_window_mask(6, 6, 1), torch.eye(6, dtype=torch.bool))


@pytest.mark.parametrize("window", [6, 7, 1000, None])
def test_window_at_least_the_length_is_causal(window: int | None) -> None:
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    assert torch.equal(sliding_window_mask(6, 6, window), causal)
    assert torch.equal(causal_mask(6, 6), causal)


def test_decode_row_sees_the_last_window_positions() -> None:
    # One new token at position 9 with window 4: keys 6, 7, 8, 9.
    expected = grid(". . . . . . x x x x")
    assert torch.equal(sliding_window_mask(1, 10, 4, offset=9), expected)


def test_chunked_prefill_rows_equal_the_full_prefill_rows() -> None:
    full = sliding_window_mask(12, 12, 5)
    for start in range(0, 12, 4):
        chunk = sliding_window_mask(4, start + 4, 5, offset=start)
        assert torch.equal(chunk, full[start : start + 4, : start + 4]), start


def test_padded_mask_drawn_by_hand() -> None:
    # lengths [3, 1], window 2: sequence 1 has one real token; its padding rows
    # attend to themselves only.
    expected = torch.stack(
        [
            grid("x . .\nx x .\n. x x"),
            grid("x . .\n. x .\n. . x"),
        ]
    )
    assert torch.equal(padded_sliding_window_mask([3, 1], 2), expected)


def test_padded_chunk_with_offset_drawn_by_hand() -> None:
    # Offset 2, chunk of 3 (positions 2, 3, 4), window 3, lengths [5, 3]:
    # sequence 1 is real up to position 2; its rows at positions 3, 4 are padding.
    expected = torch.stack(
        [
            grid("x x x . .\n. x x x .\n. . x x x"),
            grid("x x x . .\n. . . x .\n. . . . x"),
        ]
    )
    assert torch.equal(padded_sliding_window_mask([5, 3], 3, q_len=3, offset=2), expected)


def test_padded_attention_has_no_nan_and_real_rows_match_unpadded_sequences() -> None:
    torch.manual_seed(0)
    lengths = [9, 2, 5, 1]
    batch, seq, heads, dim = len(lengths), max(lengths), 2, 8
    q, k, v = (torch.randn(batch, heads, seq, dim) for _ in range(3))
    mask = padded_sliding_window_mask(torch.tensor(lengths), 3)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
    for b, n in enumerate(lengths):
        alone = torch.nn.functional.scaled_dot_product_attention(
            q[b : b + 1, :, :n],
            k[b : b + 1, :, :n],
            v[b : b + 1, :, :n],
            attn_mask=sliding_window_mask(n, n, 3),
        )
        torch.testing.assert_close(out[b : b + 1, :, :n], alone)
    # Every row, padding included, has an allowed key, so nothing is 0/0.
    assert not out.isnan().any()


def test_padded_mask_default_q_len_and_device_follow_lengths() -> None:
    mask = padded_sliding_window_mask(torch.tensor([4, 2]), None, offset=1)
    assert mask.shape == (2, 3, 4)
    assert mask.device == torch.device("cpu")
    meta = padded_sliding_window_mask(torch.tensor([4, 2], device="meta"), 2, q_len=3)
    assert meta.device.type == "meta"


def test_masks_are_bool_contiguous_and_on_the_requested_device() -> None:
    mask = sliding_window_mask(3, 7, 2, offset=4, device="meta")
    assert (mask.dtype, mask.device.type, tuple(mask.shape)) == (torch.bool, "meta", (3, 7))
    cpu = sliding_window_mask(3, 7, 2, offset=4)
    assert cpu.dtype == torch.bool and cpu.is_contiguous()


def test_empty_query_or_key_ranges_give_empty_masks() -> None:
    assert sliding_window_mask(0, 5, 2).shape == (0, 5)
    assert sliding_window_mask(3, 0, 2, offset=3).shape == (3, 0)


@pytest.mark.parametrize(
    "args", [(2, 2, 0, 0), (2, 2, -1, 0), (2, 2, 2, -1), (-1, 2, 2, 0)], ids=str
)
def test_invalid_arguments_raise(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        sliding_window_mask(*args)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_additive_mask_is_zero_where_allowed_and_minus_inf_elsewhere(dtype: torch.dtype) -> None:
    mask = sliding_window_mask(4, 6, 2, offset=2)
    bias = to_additive(mask, dtype)
    assert bias.dtype == dtype and bias.shape == mask.shape
    assert (bias[mask] == 0).all()
    assert (bias[~mask] == float("-inf")).all()


def test_additive_and_boolean_masks_give_the_same_attention() -> None:
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    mask = sliding_window_mask(5, 5, 2)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    torch.testing.assert_close(
        sdpa(q, k, v, attn_mask=mask), sdpa(q, k, v, attn_mask=to_additive(mask))
    )


def test_prefill_mask_peak_memory_stays_within_twice_the_output(tmp_path: Path) -> None:
    import memray

    n = 8192
    capture = tmp_path / "mask.bin"
    with memray.Tracker(capture):
        mask = sliding_window_mask(n, n, 4096)
    peak = memray.FileReader(capture).metadata.peak_memory
    assert mask.numel() == n * n
    assert peak <= 2 * n * n, f"peak {peak / 2**20:.1f} MiB for a {n * n / 2**20:.0f} MiB mask"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_masks_on_cuda_equal_masks_on_cpu() -> None:
    for q_len, kv_len, window, offset in [(7, 7, 3, 0), (1, 50, 8, 49), (5, 20, None, 15)]:
        on_gpu = sliding_window_mask(q_len, kv_len, window, offset, device="cuda")
        assert on_gpu.is_cuda
        assert torch.equal(on_gpu.cpu(), sliding_window_mask(q_len, kv_len, window, offset))
    lengths = torch.tensor([6, 2, 4])
    padded = padded_sliding_window_mask(lengths.cuda(), 3)
    assert padded.is_cuda
    assert torch.equal(padded.cpu(), padded_sliding_window_mask(lengths, 3))
