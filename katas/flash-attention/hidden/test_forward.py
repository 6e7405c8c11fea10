"""flash_attention: the online softmax, masks and offsets, empty rows, GQA, bfloat16,
tile sizes; against float64 SDPA and logsumexp (oracle.py)."""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from oracle import (
    BFLOAT16,
    FLOAT32,
    LSE_BFLOAT16,
    LSE_FLOAT32,
    check_close,
    expected,
    qkv,
)

# (batch, n_heads, n_kv_heads, q_len, kv_len, head_dim, causal, window, offset), (block_q, block_k)
CONFIGS = [
    ((2, 2, 2, 37, 53, 16, False, None, None), (16, 16)),  # full attention, q_len != kv_len
    ((1, 3, 3, 70, 70, 8, True, None, None), (7, 13)),  # causal prefill
    ((2, 4, 2, 20, 90, 16, True, None, None), (16, 16)),  # a chunk after 70 cached keys, GQA
    ((1, 4, 1, 33, 33, 8, True, 9, None), (7, 13)),  # sliding window, multi-query
    ((1, 6, 2, 24, 80, 8, True, 17, 40), (16, 16)),  # explicit offset, window
    ((3, 2, 1, 1, 75, 16, True, 16, None), (7, 13)),  # a decode step
    ((1, 2, 2, 30, 30, 8, True, 1, None), (16, 16)),  # W = 1: itself only
    ((1, 2, 2, 25, 40, 8, True, 100, None), (7, 13)),  # W >= kv_len: plain causal
]
Config = tuple[int, int, int, int, int, int, bool, int | None, int | None]


def what(config: Config, block_q: int, block_k: int) -> str:
    b, h, hkv, q_len, kv_len, d, causal, window, offset = config
    return (
        f"q [{b}, {h}, {q_len}, {d}], k/v [{b}, {hkv}, {kv_len}, {d}], causal={causal}, "
        f"window={window}, offset={offset}, block_q={block_q}, block_k={block_k}"
    )


@pytest.mark.parametrize(("config", "block"), CONFIGS, ids=str)
def test_float32_output_and_lse_equal_sdpa_and_logsumexp(
    config: Config, block: tuple[int, int]
) -> None:
    b, h, hkv, q_len, kv_len, d, causal, window, offset = config
    q, k, v = qkv(b, h, hkv, q_len, kv_len, d, seed=q_len + kv_len)
    out, lse = sol.flash_attention(
        q, k, v, causal=causal, window=window, offset=offset, block_q=block[0], block_k=block[1]
    )
    want_out, want_lse = expected(q, k, v, causal, window, offset)
    where = what(config, *block)
    check_close(out, want_out, FLOAT32, f"out, {where}", torch.float32)
    check_close(lse, want_lse, LSE_FLOAT32, f"lse, {where}", torch.float32)


def test_online_softmax_worked_example() -> None:
    # head_dim 1, scale 1: q = 1 and k = [1, 3, 2, 5] make the scores [1, 3 | 2, 5].
    q = torch.ones(1, 1, 1, 1)
    k = torch.tensor([1.0, 3.0, 2.0, 5.0]).view(1, 1, 4, 1)
    v = torch.tensor([10.0, 20.0, 30.0, 40.0]).view(1, 1, 4, 1)
    out, lse = sol.flash_attention(q, k, v, block_q=1, block_k=2)
    assert math.isclose(float(out), 36.88057, rel_tol=1e-5), (
        f"softmax([1, 3, 2, 5]) . [10, 20, 30, 40] = 36.8806 with tiles of 2 keys, got "
        f"{float(out):.6g} (rescale the running sum and the accumulator by "
        "exp(old max - new max) when the second tile raises the max)"
    )
    assert math.isclose(float(lse), 5.185182, rel_tol=1e-5), (
        f"lse = log(e^1 + e^3 + e^2 + e^5) = 5.18518, got {float(lse):.6g}"
    )


@pytest.mark.parametrize("block", [(1, 1), (3, 5), (64, 64), (1000, 1000), (8, 1000)], ids=str)
def test_result_does_not_depend_on_the_tile_sizes(block: tuple[int, int]) -> None:
    q, k, v = qkv(1, 4, 2, 13, 21, 8, seed=3)
    out, lse = sol.flash_attention(
        q, k, v, causal=True, window=6, block_q=block[0], block_k=block[1]
    )
    want_out, want_lse = expected(q, k, v, True, 6)
    where = f"causal window 6, q_len 13, kv_len 21, block_q={block[0]}, block_k={block[1]}"
    check_close(out, want_out, FLOAT32, f"out, {where}", torch.float32)
    check_close(lse, want_lse, LSE_FLOAT32, f"lse, {where}", torch.float32)


def attended(q_len: int, kv_len: int, **mask: object) -> list[list[int]]:
    """Which keys each query row attends, read off the output: with q = 0 every allowed
    key gets the same weight, and with v = the identity, out[i, j] is key j's weight."""
    q = torch.zeros(1, 1, q_len, kv_len)
    k = torch.zeros(1, 1, kv_len, kv_len)
    v = torch.eye(kv_len).view(1, 1, kv_len, kv_len)
    out, _ = sol.flash_attention(q, k, v, block_q=2, block_k=4, **mask)
    return (out[0, 0] > 1e-6).int().tolist()


def test_chunk_after_cached_keys_sits_at_the_end_by_default() -> None:
    got = attended(3, 6, causal=True, window=3)
    want = [[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1]]
    assert got == want, (
        f"q_len 3 after 3 cached keys (offset 3), window 3: rows attend {want}, got {got}"
    )


def test_causal_with_a_shorter_chunk_is_not_sdpa_is_causal() -> None:
    # SDPA's is_causal aligns the top-left corner (row 0 sees key 0 only); here the
    # queries are the last positions, so row 0 sees keys 0..2.
    got = attended(2, 4, causal=True)
    want = [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert got == want, f"q_len 2, kv_len 4, causal (offset 2): rows attend {want}, got {got}"


def test_explicit_offset_places_the_queries() -> None:
    got = attended(2, 8, causal=True, window=2, offset=3)
    want = [[0, 0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0, 0, 0]]
    assert got == want, f"offset 3, window 2: rows attend {want}, got {got}"


def test_window_counts_the_query_itself() -> None:
    got = attended(5, 5, causal=True, window=2)
    want = [[1 if i - 2 < j <= i else 0 for j in range(5)] for i in range(5)]
    assert got == want, f"window 2: query i attends i-1 and i; expected {want}, got {got}"
    one = attended(4, 4, causal=True, window=1)
    assert one == torch.eye(4, dtype=torch.int).tolist(), f"window 1 attends itself only, got {one}"


def test_non_causal_attends_every_key_whatever_the_offset() -> None:
    got = attended(3, 5)
    assert got == [[1] * 5] * 3, f"causal=False: every row attends all 5 keys, got {got}"
    got = attended(3, 5, offset=0)
    assert got == [[1] * 5] * 3, f"causal=False ignores offset=0: all 5 keys, got {got}"


def test_rows_with_no_allowed_key_return_zeros_and_lse_minus_inf() -> None:
    # q_len 6 > kv_len 4: the default offset is -2, so rows 0 and 1 come before key 0.
    q, k, v = qkv(1, 2, 1, 6, 4, 8, seed=4)
    out, lse = sol.flash_attention(q, k, v, causal=True, block_q=4, block_k=4)
    assert not torch.isnan(out).any(), "an empty row must give zeros, not NaN"
    assert torch.equal(out[:, :, :2], torch.zeros(1, 2, 2, 8)), (
        f"rows 0 and 1 allow no key (positions -2, -1) and must be zero, got "
        f"{out[0, 0, :2].tolist()}"
    )
    assert bool((lse[:, :, :2] == -math.inf).all()), (
        f"the lse of an empty row is -inf, got {lse[0, :, :2].tolist()}"
    )
    want_out, want_lse = expected(q, k, v, True)
    check_close(out, want_out, FLOAT32, "out, q_len 6 over kv_len 4 causal", torch.float32)
    check_close(lse, want_lse, LSE_FLOAT32, "lse, q_len 6 over kv_len 4 causal", torch.float32)


def test_a_window_past_every_key_gives_empty_rows() -> None:
    # offset 6, window 2 over 7 keys: row 0 (position 6) sees keys 5, 6; row 1
    # (position 7) sees key 6 only; rows at positions 8, 9 and 10 allow no existing key
    # (they would need keys 7..10).
    q, k, v = qkv(2, 2, 2, 5, 7, 8, seed=5)
    out, lse = sol.flash_attention(q, k, v, causal=True, window=2, offset=6, block_k=3)
    want_out, want_lse = expected(q, k, v, True, 2, 6)
    check_close(out, want_out, FLOAT32, "out, offset 6 window 2 over 7 keys", torch.float32)
    check_close(lse, want_lse, LSE_FLOAT32, "lse, offset 6 window 2 over 7 keys", torch.float32)


def test_rows_whose_first_tiles_are_masked_are_not_nan() -> None:
    # Window 5 with tiles of 4 keys: late rows see nothing in the first tiles, so their
    # running max is still -inf when the first allowed key arrives.
    q, k, v = qkv(1, 2, 2, 40, 40, 8, seed=6)
    out, _ = sol.flash_attention(q, k, v, causal=True, window=5, block_q=8, block_k=4)
    assert not torch.isnan(out).any(), (
        "NaN in rows whose earlier key tiles were all masked: exp(-inf - (-inf)) is NaN"
    )
    want_out, _ = expected(q, k, v, True, 5)
    check_close(out, want_out, FLOAT32, "out, window 5, tiles 8 x 4", torch.float32)


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["large_positive", "large_negative"])
def test_scores_of_several_hundred_neither_overflow_nor_underflow(sign: float) -> None:
    # Every score of a row near +-400 (times a few units): exp overflows float32 past 88
    # and underflows to 0 below -103, so only the max-subtracted form survives.
    g = torch.Generator().manual_seed(7)
    q = torch.full((1, 2, 6, 16), 10.0) + torch.randn(1, 2, 6, 16, generator=g) * 0.1
    k = sign * torch.full((1, 2, 20, 16), 10.0) + torch.randn(1, 2, 20, 16, generator=g)
    v = torch.randn(1, 2, 20, 16, generator=g)
    out, lse = sol.flash_attention(q, k, v, block_k=8)
    want_out, want_lse = expected(q, k, v)
    where = f"scores near {sign * 400:+.0f}"
    check_close(out, want_out, (1e-3, 1e-3), f"out, {where}", torch.float32)
    check_close(lse, want_lse, (1e-3, 1e-5), f"lse, {where}", torch.float32)


def test_query_head_h_reads_kv_head_h_over_group() -> None:
    # 6 query heads over 2 kv heads: heads 0-2 read kv head 0 (values 1), heads 3-5 kv
    # head 1 (values 2). Any attention weights average a constant to itself.
    q, k, _ = qkv(1, 6, 2, 3, 5, 4, seed=8)
    v = torch.ones(1, 2, 5, 4)
    v[:, 1] = 2.0
    out, _ = sol.flash_attention(q, k, v, causal=True)
    per_head = [round(float(x), 4) for x in out[0, :, :, 0].mean(dim=1)]
    assert per_head == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0], (
        f"query head h uses kv head h // 3: expected [1, 1, 1, 2, 2, 2], got {per_head}"
    )


def test_explicit_scale_replaces_one_over_sqrt_head_dim() -> None:
    q, k, v = qkv(1, 2, 2, 9, 9, 16, seed=9)
    out, lse = sol.flash_attention(q, k, v, causal=True, scale=0.7, block_q=4, block_k=4)
    want_out, want_lse = expected(q, k, v, True, scale=0.7)
    check_close(out, want_out, FLOAT32, "out with scale=0.7", torch.float32)
    check_close(lse, want_lse, LSE_FLOAT32, "lse with scale=0.7", torch.float32)


@pytest.mark.parametrize(
    "config",
    [
        (2, 4, 2, 16, 300, 32, False, None, None),  # long rows: sums of 300 terms
        (1, 2, 2, 64, 200, 16, True, None, None),
        (1, 4, 1, 40, 100, 16, True, 16, None),
    ],
    ids=str,
)
def test_bfloat16_returns_bfloat16_accumulated_in_float32(config: Config) -> None:
    b, h, hkv, q_len, kv_len, d, causal, window, offset = config
    q, k, v = qkv(b, h, hkv, q_len, kv_len, d, seed=kv_len, dtype=torch.bfloat16)
    out, lse = sol.flash_attention(q, k, v, causal=causal, window=window, block_q=32, block_k=32)
    want_out, want_lse = expected(q, k, v, causal, window, offset)
    where = what(config, 32, 32) + ", bfloat16"
    check_close(out, want_out, BFLOAT16, f"out, {where}", torch.bfloat16)
    check_close(lse, want_lse, LSE_BFLOAT16, f"lse, {where}", torch.float32)


def test_inputs_are_not_modified() -> None:
    q, k, v = qkv(1, 2, 1, 10, 12, 8, seed=10)
    before = (q.clone(), k.clone(), v.clone())
    sol.flash_attention(q, k, v, causal=True, window=4, block_q=4, block_k=4)
    for name, now, then in zip("qkv", (q, k, v), before, strict=True):
        assert torch.equal(now, then), f"flash_attention changed its argument {name}"


def test_invalid_arguments_raise_value_error() -> None:
    q, k, v = qkv(1, 3, 2, 4, 4, 8, seed=11)
    with pytest.raises(ValueError):
        sol.flash_attention(q, k, v)  # 3 query heads over 2 kv heads
    q, k, v = qkv(1, 2, 2, 4, 4, 8, seed=11)
    with pytest.raises(ValueError):
        sol.flash_attention(q, k, v, causal=True, window=0)
    with pytest.raises(ValueError):
        sol.flash_attention(q, k, v, window=2)  # a window without causal=True
