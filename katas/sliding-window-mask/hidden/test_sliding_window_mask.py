"""Hidden suite for the sliding-window-mask kata."""

from __future__ import annotations

import pytest
import solution as sol
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from oracle import (
    describe,
    grid,
    mask_args,
    padded_args,
    peak_bytes,
    slow_attention,
    slow_mask,
    slow_padded_mask,
)

from grader.judge.remote import RemoteObject, keep


def check(got: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}"
    assert got.dtype == torch.bool, f"{what}: expected dtype torch.bool, got {got.dtype}"
    assert got.shape == expected.shape and torch.equal(got.cpu(), expected), (
        f"{what}: {describe(got, expected)}"
    )


# The rule on a single mask ------------------------------------------------------


def test_window_one_lets_each_token_see_only_itself() -> None:
    check(sol.sliding_window_mask(6, 6, 1), torch.eye(6, dtype=torch.bool), "window=1")


@pytest.mark.parametrize("window", [7, 8, 100, None])
def test_window_at_least_the_length_is_plain_causal(window: int | None) -> None:
    causal = torch.ones(7, 7, dtype=torch.bool).tril()
    check(sol.sliding_window_mask(7, 7, window), causal, f"window={window} over 7 tokens")


def test_early_rows_with_fewer_than_window_predecessors_see_all_of_them() -> None:
    mask = sol.sliding_window_mask(8, 8, 5)
    check(mask[:5], torch.ones(5, 8, dtype=torch.bool).tril(), "rows i < window (i=0..4, window=5)")


def test_row_at_position_window_drops_key_zero() -> None:
    # Position 4 with window 4 sees keys 1..4; key 0 is exactly W back and is out.
    check(sol.sliding_window_mask(5, 5, 4)[4], grid(". x x x x")[0], "row 4, window=4")


def test_prefill_window_three_drawn_by_hand() -> None:
    expected = grid(
        """
        x . . . . .
        x x . . . .
        x x x . . .
        . x x x . .
        . . x x x .
        . . . x x x
        """
    )
    check(sol.sliding_window_mask(6, 6, 3), expected, "prefill of 6, window=3")


def test_chunk_after_cached_tokens_drawn_by_hand() -> None:
    expected = grid(
        """
        . x x x . .
        . . x x x .
        . . . x x x
        """
    )
    check(
        sol.sliding_window_mask(3, 6, 3, offset=3), expected, "q_len=3 kv_len=6 window=3 offset=3"
    )


def test_decode_step_sees_the_last_window_keys() -> None:
    expected = grid(". . . . . . x x x x")
    check(sol.sliding_window_mask(1, 10, 4, offset=9), expected, "decode at position 9, window=4")


def test_decode_before_the_window_fills_sees_every_key() -> None:
    expected = torch.ones(1, 3, dtype=torch.bool)
    check(sol.sliding_window_mask(1, 3, 8, offset=2), expected, "decode at position 2, window=8")


def test_offset_equal_to_window_starts_one_past_key_zero() -> None:
    # Chunk of 2 at offset 4, window 4: positions 4, 5 see keys 1..4 and 2..5.
    expected = grid(". x x x x .\n. . x x x x")
    check(sol.sliding_window_mask(2, 6, 4, offset=4), expected, "offset=window=4")


def test_offset_far_past_the_window() -> None:
    expected = grid(
        """
        . . . . . . . . . . . x x .
        . . . . . . . . . . . . x x
        """
    )
    check(sol.sliding_window_mask(2, 14, 2, offset=12), expected, "offset=12, window=2")


def test_chunked_prefill_stitches_into_the_full_prefill() -> None:
    full = slow_mask(12, 12, 5)
    for start in range(0, 12, 4):
        chunk = sol.sliding_window_mask(4, start + 4, 5, offset=start)
        check(chunk, full[start : start + 4, : start + 4], f"chunk of 4 at offset {start}")


def test_keys_beyond_the_query_position_stay_masked_in_a_longer_cache() -> None:
    # A preallocated cache: kv_len 8 but queries at positions 2 and 3 only.
    expected = grid("x x x . . . . .\n. x x x . . . .")
    check(sol.sliding_window_mask(2, 8, 3, offset=2), expected, "kv_len > offset + q_len")


def test_non_square_shape_is_queries_by_keys() -> None:
    mask = sol.sliding_window_mask(3, 11, 4, offset=8)
    assert tuple(mask.shape) == (3, 11), (
        f"expected [q_len, kv_len] = (3, 11), got {tuple(mask.shape)}"
    )


def test_empty_query_chunk_gives_an_empty_mask() -> None:
    mask = sol.sliding_window_mask(0, 5, 2, offset=5)
    assert tuple(mask.shape) == (0, 5), f"expected shape (0, 5), got {tuple(mask.shape)}"
    assert mask.dtype == torch.bool


def test_mask_dtype_is_bool() -> None:
    for args in [(4, 4, 2, 0), (1, 9, None, 8)]:
        mask = sol.sliding_window_mask(*args)
        assert mask.dtype == torch.bool, f"{args}: expected torch.bool, got {mask.dtype}"


def test_device_follows_the_argument() -> None:
    # The meta device has no data: a mask built on the CPU and moved would not be on it.
    # A meta tensor cannot cross to this process (it has no bytes to send): it stays in
    # the solution's process and we read its device and shape there.
    mask = keep(sol.sliding_window_mask, 4, 9, 3, offset=5, device="meta")
    assert isinstance(mask, RemoteObject), f"expected a tensor, got {mask!r:.80}"
    device = mask.device
    assert device.type == "meta", f"device='meta' requested, got {device}"
    assert tuple(mask.shape) == (4, 9)
    # Where a GPU is present, check there too (the grader counts a skipped test as failed).
    if torch.cuda.is_available():
        on_gpu = sol.sliding_window_mask(5, 12, 4, offset=7, device="cuda")
        assert on_gpu.is_cuda, f"device='cuda' requested, got {on_gpu.device}"
        check(on_gpu, slow_mask(5, 12, 4, offset=7), "on cuda")
        padded = sol.padded_sliding_window_mask(torch.tensor([6, 2], device="cuda"), 3)
        assert padded.is_cuda, f"lengths on cuda, mask on {padded.device}"
        check(padded, slow_padded_mask([6, 2], 3, 6), "padded on cuda")


@pytest.mark.parametrize("window", [0, -2])
def test_window_below_one_raises_value_error(window: int) -> None:
    with pytest.raises(ValueError):
        sol.sliding_window_mask(3, 3, window)


def test_negative_offset_raises_value_error() -> None:
    with pytest.raises(ValueError):
        sol.sliding_window_mask(3, 3, 2, offset=-1)


@settings(max_examples=50, deadline=None)
@given(mask_args())
def test_mask_equals_a_slow_double_loop(args: tuple[int, int, int | None, int]) -> None:
    q_len, kv_len, window, offset = args
    check(
        sol.sliding_window_mask(q_len, kv_len, window, offset),
        slow_mask(q_len, kv_len, window, offset),
        f"q_len={q_len} kv_len={kv_len} window={window} offset={offset}",
    )


# Padded batches -------------------------------------------------------------------


def test_padded_batch_drawn_by_hand() -> None:
    expected = torch.stack([grid("x . .\nx x .\n. x x"), grid("x . .\n. x .\n. . x")])
    check(
        sol.padded_sliding_window_mask(torch.tensor([3, 1]), 2), expected, "lengths=[3, 1] window=2"
    )


def test_padding_rows_attend_to_themselves_only() -> None:
    mask = sol.padded_sliding_window_mask(torch.tensor([2, 6]), 4)
    check(
        mask[0, 2:], torch.eye(6, dtype=torch.bool)[2:], "padding rows 2..5 of a length-2 sequence"
    )


def test_real_rows_never_see_padding_keys() -> None:
    mask = sol.padded_sliding_window_mask(torch.tensor([3, 7, 5]), None)
    for b, n in enumerate([3, 7, 5]):
        seen = mask[b, :n, n:]
        assert not seen.any(), f"sequence {b} (length {n}): a real row attends a padding key"


def test_no_padded_row_is_empty() -> None:
    # An all-False row is 0/0 in softmax: NaN on most GPU kernels.
    mask = sol.padded_sliding_window_mask(torch.tensor([9, 1, 0, 4]), 2, q_len=9)
    empty = (~mask.any(dim=-1)).nonzero()
    assert len(empty) == 0, f"rows with no allowed key (batch, row): {empty.tolist()}"


def test_padded_chunk_with_cache_offset_drawn_by_hand() -> None:
    # Offset 2, chunk of 3 (positions 2, 3, 4), window 3, lengths [5, 3].
    expected = torch.stack(
        [
            grid("x x x . .\n. x x x .\n. . x x x"),
            grid("x x x . .\n. . . x .\n. . . . x"),
        ]
    )
    got = sol.padded_sliding_window_mask(torch.tensor([5, 3]), 3, q_len=3, offset=2)
    check(got, expected, "lengths=[5, 3] window=3 q_len=3 offset=2")


def test_padded_default_q_len_is_longest_minus_offset() -> None:
    mask = sol.padded_sliding_window_mask(torch.tensor([4, 6, 2]), 3, offset=2)
    assert tuple(mask.shape) == (3, 4, 6), (
        f"expected (batch, max-offset, max) = (3, 4, 6), got {tuple(mask.shape)}"
    )
    assert mask.dtype == torch.bool, f"expected torch.bool, got {mask.dtype}"


def test_full_length_batch_of_one_equals_the_unpadded_mask() -> None:
    got = sol.padded_sliding_window_mask(torch.tensor([9]), 4)
    check(got, slow_mask(9, 9, 4)[None], "one sequence without padding")


@settings(max_examples=40, deadline=None)
@given(padded_args())
def test_padded_mask_equals_a_slow_loop(args: tuple[list[int], int | None, int, int]) -> None:
    lengths, window, q_len, offset = args
    got = sol.padded_sliding_window_mask(torch.tensor(lengths), window, q_len=q_len, offset=offset)
    check(
        got,
        slow_padded_mask(lengths, window, q_len, offset),
        f"lengths={lengths} window={window} q_len={q_len} offset={offset}",
    )


# In attention ---------------------------------------------------------------------


def test_sdpa_with_the_mask_equals_an_explicit_masked_softmax() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 9, 8, generator=g) for _ in range(3))
    mask = sol.sliding_window_mask(9, 9, 3)
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    expected = slow_attention(q, k, v, slow_mask(9, 9, 3).expand(2, 9, 9))
    torch.testing.assert_close(got.double(), expected, atol=1e-5, rtol=1e-5)


def test_padded_batch_attention_has_no_nan_and_real_rows_equal_each_sequence_alone() -> None:
    lengths = [7, 1, 4]
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(3, 2, 7, 8, generator=g) for _ in range(3))
    mask = sol.padded_sliding_window_mask(torch.tensor(lengths), 3)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
    assert not out.isnan().any(), "attention over the padded batch produced NaN (an empty mask row)"
    for b, n in enumerate(lengths):
        alone = slow_attention(
            q[b : b + 1, :, :n], k[b : b + 1, :, :n], v[b : b + 1, :, :n], slow_mask(n, n, 3)[None]
        )
        torch.testing.assert_close(out[b : b + 1, :, :n].double(), alone, atol=1e-5, rtol=1e-5)


# Memory ---------------------------------------------------------------------------

SLACK = 1 << 20  # aranges, small vectors, allocator rounding


def test_prefill_mask_peak_memory_is_within_twice_the_output() -> None:
    n = 4096
    peak = peak_bytes("sliding_window_mask", (n, n, 1024), warm_up=(8, 8, 2))
    budget = 2 * n * n + SLACK
    assert peak <= budget, (
        f"building a {n}x{n} mask peaked at {peak / 2**20:.1f} MiB; the bool output is "
        f"{n * n / 2**20:.0f} MiB and the budget {budget / 2**20:.0f} MiB: "
        "a float or int n x n intermediate?"
    )


def test_padded_mask_peak_memory_is_within_three_times_the_output() -> None:
    lengths = torch.tensor([2048, 1500, 7])
    out_bytes = 3 * 2048 * 2048
    peak = peak_bytes(
        "padded_sliding_window_mask", (lengths, 512), warm_up=(torch.tensor([8, 3, 1]), 2)
    )
    budget = 3 * out_bytes + SLACK
    assert peak <= budget, (
        f"a [3, 2048, 2048] padded mask peaked at {peak / 2**20:.1f} MiB; the bool output is "
        f"{out_bytes / 2**20:.0f} MiB and the budget {budget / 2**20:.0f} MiB"
    )
