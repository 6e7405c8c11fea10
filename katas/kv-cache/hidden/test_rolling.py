"""RollingKVCache: slot p % W, time-ordered reads, wrap-around, prefill longer than W."""

from __future__ import annotations

import math
from typing import Any

import pytest
import solution as sol
import torch
from oracle import built_over_garbage, call, ids_of, marked, nonzero_entries

from grader.judge.remote import fetch, keep_attr

V_TAG = 500_000.0


def _write(cache: Any, layer: int, start: list[int], t: int) -> Any:
    n_kv, d = cache.k.shape[3], cache.k.shape[4]
    k = marked(len(start), start, t, n_kv, d, 0.0)
    v = marked(len(start), start, t, n_kv, d, V_TAG)
    return call(cache, layer, k, v, start)


def _decode(cache: Any, n: int, batch: int = 1) -> Any:
    """Append positions 0 .. n-1 one at a time; return the last update's result."""
    out = None
    for p in range(n):
        out = _write(cache, 0, [p] * batch, 1)
    return out


def _valid(k: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    return [row[:n] for row, n in zip(ids_of(k), lengths.tolist(), strict=True)]


def test_rolling_buffers_hold_window_slots() -> None:
    cache = sol.RollingKVCache(2, 3, 5, 4, 8)
    for name in ("k", "v"):
        buf = getattr(cache, name)
        assert tuple(buf.shape) == (2, 3, 5, 4, 8), (
            f"cache.{name} must be [n_layers, batch, window, n_kv_heads, head_dim] = "
            f"(2, 3, 5, 4, 8), got {tuple(buf.shape)}"
        )
        assert buf.dtype == torch.float32


def test_rolling_token_at_position_p_goes_to_slot_p_mod_window() -> None:
    cache = sol.RollingKVCache(1, 1, 4, 1, 1)
    _decode(cache, 7)  # the prompt's worked example: positions 0..6, W = 4
    slots = ids_of(cache.k[0])[0]
    assert slots == [4, 5, 6, 3], (
        f"after positions 0..6 with W=4 slots 0..3 must hold positions [4, 5, 6, 3], got {slots}"
    )
    assert ids_of(cache.v[0] - V_TAG)[0] == [4, 5, 6, 3], "values follow the same slot rule"


def test_rolling_read_before_the_wrap_is_every_token_in_order() -> None:
    cache = sol.RollingKVCache(1, 1, 4, 1, 1)
    k, v, lengths = _decode(cache, 3)
    assert tuple(k.shape) == (1, 3, 1, 1), f"3 tokens in W=4: expect L=3, got {tuple(k.shape)}"
    assert ids_of(k)[0] == [0, 1, 2] and lengths.tolist() == [3]
    assert ids_of(v - V_TAG)[0] == [0, 1, 2]


def test_rolling_read_after_the_wrap_starts_at_the_oldest_token() -> None:
    cache = sol.RollingKVCache(1, 1, 4, 1, 1)
    k, v, lengths = _decode(cache, 7)
    assert ids_of(k)[0] == [3, 4, 5, 6], (
        f"after positions 0..6 (W=4) the read must be positions [3, 4, 5, 6], got {ids_of(k)[0]}"
    )
    assert ids_of(v - V_TAG)[0] == [3, 4, 5, 6]
    assert lengths.tolist() == [4], f"lengths is min(end, W) = 4, got {lengths.tolist()}"


@pytest.mark.parametrize("window", [1, 3, 4, 8])
def test_rolling_cache_wraps_exactly_at_the_window(window: int) -> None:
    cache = sol.RollingKVCache(1, 1, window, 1, 1)
    k, _, lengths = _decode(cache, window)
    assert ids_of(k)[0] == list(range(window)), (
        f"with exactly W={window} tokens the read is positions 0..{window - 1}, got {ids_of(k)[0]}"
    )
    assert ids_of(cache.k[0])[0] == list(range(window)), "no slot has been reused yet"
    k, _, lengths = _write(cache, 0, [window], 1)
    assert ids_of(k)[0] == list(range(1, window + 1)), (
        f"token W={window} evicts position 0: expected {list(range(1, window + 1))}, "
        f"got {ids_of(k)[0]}"
    )
    assert ids_of(cache.k[0])[0][0] == window, f"position {window} goes to slot 0"
    assert lengths.tolist() == [window]


@pytest.mark.parametrize("end", [8, 9, 11, 12, 13, 16])
def test_rolling_cache_wraps_at_every_multiple_of_the_window(end: int) -> None:
    w = 4
    cache = sol.RollingKVCache(1, 1, w, 1, 1)
    k, _, _ = _decode(cache, end)
    want = list(range(end - w, end))
    assert ids_of(k)[0] == want, f"after {end} tokens (W=4) expected {want}, got {ids_of(k)[0]}"
    slots = ids_of(cache.k[0])[0]
    assert all(slots[p % w] == p for p in want), (
        f"slot p % 4 must hold position p: after {end} tokens slots hold {slots}"
    )


def test_rolling_prefill_longer_than_the_window_keeps_only_the_last_window() -> None:
    cache = sol.RollingKVCache(1, 1, 4, 1, 1)
    k, v, lengths = _write(cache, 0, [0], 10)
    assert ids_of(cache.k[0])[0] == [8, 9, 6, 7], (
        "a 10-token prefill into W=4 keeps positions 6..9 in slots 2, 3, 0, 1: "
        f"expected slots [8, 9, 6, 7], got {ids_of(cache.k[0])[0]}"
    )
    assert ids_of(k)[0] == [6, 7, 8, 9], f"the read is positions 6..9, got {ids_of(k)[0]}"
    assert ids_of(v - V_TAG)[0] == [6, 7, 8, 9]
    assert lengths.tolist() == [4]


def test_rolling_prefill_of_exactly_the_window() -> None:
    cache = sol.RollingKVCache(1, 2, 5, 1, 1)
    k, _, lengths = _write(cache, 0, [0, 0], 5)
    assert ids_of(k) == [list(range(5)), [1000 + p for p in range(5)]]
    assert lengths.tolist() == [5, 5]


def test_rolling_chunk_after_the_wrap_lands_in_its_slots() -> None:
    cache = sol.RollingKVCache(1, 1, 4, 1, 1)
    _write(cache, 0, [0], 5)  # positions 1..4 kept
    k, _, _ = _write(cache, 0, [5], 3)  # positions 5, 6, 7 -> slots 1, 2, 3
    assert ids_of(cache.k[0])[0] == [4, 5, 6, 7], f"got slots {ids_of(cache.k[0])[0]}"
    assert ids_of(k)[0] == [4, 5, 6, 7]


def test_rolling_ragged_sequences_wrap_independently() -> None:
    cache = sol.RollingKVCache(1, 3, 4, 1, 1)
    _write(cache, 0, [0, 0, 0], 3)
    # Sequence 0 runs on to 7 tokens; row 1 takes a new sequence at step 4 (start_pos 0);
    # row 2 restarts every step.
    for p, s1 in zip(range(3, 7), [3, 0, 1, 2], strict=True):
        k, _, lengths = _write(cache, 0, [p, s1, 0], 1)
    assert lengths.tolist() == [4, 3, 1], f"lengths must be [4, 3, 1], got {lengths.tolist()}"
    assert tuple(k.shape)[1] == 4, f"L is min(W, max(start_pos) + T) = 4, got {k.shape[1]}"
    got = _valid(k, lengths)
    assert got == [[3, 4, 5, 6], [1000, 1001, 1002], [2000]], (
        f"each sequence reads its own window in time order: expected "
        f"[[3, 4, 5, 6], [1000, 1001, 1002], [2000]], got {got}"
    )


def test_rolling_lengths_are_capped_at_the_window_per_sequence() -> None:
    cache = sol.RollingKVCache(1, 2, 6, 1, 1)
    _write(cache, 0, [0, 0], 4)
    _, _, lengths = _write(cache, 0, [4, 1], 3)
    assert lengths.tolist() == [6, 4], f"min(start_pos + T, W) is [6, 4], got {lengths.tolist()}"
    _, _, lengths = _write(cache, 0, [7, 4], 3)
    assert lengths.tolist() == [6, 6], f"got {lengths.tolist()}"
    assert lengths.dtype == torch.long


def test_rolling_window_of_one_keeps_only_the_newest_token() -> None:
    cache = sol.RollingKVCache(1, 2, 1, 1, 1)
    for p in range(5):
        k, _, lengths = _write(cache, 0, [p, p], 1)
        assert ids_of(k) == [[p], [1000 + p]], f"W=1 reads the newest token only, got {ids_of(k)}"
        assert lengths.tolist() == [1, 1]


def test_rolling_layers_are_independent() -> None:
    cache = sol.RollingKVCache(2, 1, 3, 1, 1)
    for p in range(5):
        _write(cache, 0, [p], 1)
    x = torch.full((1, 2, 1, 1), 77.0)
    k1, _, _ = call(cache, 1, x, x, [0])
    assert ids_of(k1)[0] == [77, 77]
    assert ids_of(cache.k[0])[0] == [3, 4, 2], "layer 1 writes must not touch layer 0"
    k0, _, _ = _write(cache, 0, [5], 1)
    assert ids_of(k0)[0] == [3, 4, 5], f"layer 0 continues on its own, got {ids_of(k0)[0]}"


def test_rolling_cache_writes_in_place_and_never_reallocates() -> None:
    cache = sol.RollingKVCache(1, 2, 8, 2, 4)
    # The buffers as constructed, kept in the solution's process: if update rebuilds
    # them, these stop receiving its writes.
    k_buf, v_buf = keep_attr(cache, "k"), keep_attr(cache, "v")
    for p in range(30):
        _write(cache, 0, [p, p], 1)
        k_slots, v_slots = ids_of(fetch(k_buf)[0]), ids_of(fetch(v_buf)[0] - V_TAG)
        assert k_slots[1][p % 8] == v_slots[1][p % 8] == 1000 + p, (
            f"cache.k / cache.v moved at step {p}: the buffers made in __init__ no longer "
            "receive the writes; writes must go into the preallocated buffers"
        )
    k_buf[0, 0, 0, 0, 0] = -3.0
    v_buf[0, 0, 0, 0, 0] = -3.0
    assert float(cache.k[0, 0, 0, 0, 0]) == float(cache.v[0, 0, 0, 0, 0]) == -3.0, (
        "cache.k / cache.v must still be the buffers made in __init__: a write into those "
        "does not show in them"
    )


def test_rolling_buffers_are_zero_filled_at_construction() -> None:
    # Last in the file, as in test_contiguous.py.
    shape = (1, 2, 16, 4, 32)
    cache = built_over_garbage(lambda: sol.RollingKVCache(*shape), shape)
    for name in ("k", "v"):
        bad = nonzero_entries(getattr(cache, name))
        assert bad == 0, (
            f"__init__ must zero-fill cache.{name}: {bad} of {math.prod(shape)} entries are "
            "not 0 (torch.empty leaves whatever the memory held, NaN included)"
        )
