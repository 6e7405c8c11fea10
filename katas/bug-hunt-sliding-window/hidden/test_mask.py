"""sliding_window_mask: hand-worked masks, the reference's masks, counts per row."""

from __future__ import annotations

import pytest
import solution as sol
import torch

from reference import masks


def grid(rows: list[str]) -> torch.Tensor:
    return torch.tensor([[c == "x" for c in row.replace(" ", "")] for row in rows])


def show(mask: torch.Tensor) -> list[str]:
    return [" ".join("x" if bool(c) else "." for c in row) for row in mask]


def test_mask_of_a_prefill_keeps_the_last_w_positions() -> None:
    want = grid(["x . . . .", "x x . . .", "x x x . .", ". x x x .", ". . x x x"])
    got = sol.sliding_window_mask(5, 5, 3, 0)
    assert got.dtype == torch.bool, f"the mask is bool (True = attend), got {got.dtype}"
    assert torch.equal(got, want), (
        f"5-token prefill with W=3: expected rows {show(want)}, got {show(got)}"
    )


def test_mask_of_a_chunk_after_cached_keys_shifts_by_the_offset() -> None:
    want = grid([". x x x . .", ". . x x x .", ". . . x x x"])
    got = sol.sliding_window_mask(3, 6, 3, 3)
    assert torch.equal(got, want), (
        "3 queries after 3 cached keys, W=3 (queries at key indices 3, 4, 5): "
        f"expected rows {show(want)}, got {show(got)}"
    )


def test_mask_of_a_decode_step_after_a_full_cache_skips_the_oldest_key() -> None:
    got = sol.sliding_window_mask(1, 5, 4, 4)
    want = grid([". x x x x"])
    assert torch.equal(got, want), (
        "a decode step after a full W=4 cache sees its own key and the 3 newest cached "
        f"ones, not the oldest: expected {show(want)}, got {show(got)}"
    )


@pytest.mark.parametrize("window", [1, 2, 3, 5, 8])
def test_mask_matches_the_reference_masks(window: int) -> None:
    for q_len, kv_len, offset in [(1, 1, 0), (6, 6, 0), (3, 9, 6), (1, 9, 8), (4, 7, 3)]:
        got = sol.sliding_window_mask(q_len, kv_len, window, offset)
        want = masks.sliding_window_mask(q_len, kv_len, window, offset)
        assert torch.equal(got, want), (
            f"sliding_window_mask({q_len}, {kv_len}, window={window}, offset={offset}): "
            f"expected {show(want)}, got {show(got)}"
        )


def test_every_query_sees_exactly_min_of_its_position_plus_one_and_w_keys() -> None:
    window, n = 4, 12
    got = sol.sliding_window_mask(n, n, window, 0)
    counts = got.sum(dim=1).tolist()
    want = [min(i + 1, window) for i in range(n)]
    assert counts == want, f"keys per query with W=4: expected {want}, got {counts}"
