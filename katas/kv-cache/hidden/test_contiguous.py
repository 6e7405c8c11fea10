"""KVCache: preallocated storage, writes at per-sequence positions, views as results."""

from __future__ import annotations

import math
from typing import Any

import solution as sol
import torch
from oracle import built_over_garbage, call, ids_of, marked, nonzero_entries, positions, randn

from grader.judge.remote import fetch, keep, keep_attr

V_TAG = 500_000.0  # values carry ids offset by this, so keys and values cannot be confused


def _write(cache: Any, layer: int, start: list[int], t: int, n_kv: int, d: int) -> Any:
    k = marked(len(start), start, t, n_kv, d, 0.0)
    v = marked(len(start), start, t, n_kv, d, V_TAG)
    return call(cache, layer, k, v, start)


def test_buffers_are_preallocated_with_the_documented_shape_and_dtype() -> None:
    cache = sol.KVCache(3, 2, 10, 4, 8)
    for name in ("k", "v"):
        buf = getattr(cache, name)
        assert tuple(buf.shape) == (3, 2, 10, 4, 8), (
            f"cache.{name} must be [n_layers, batch, max_seq_len, n_kv_heads, head_dim] = "
            f"(3, 2, 10, 4, 8), got {tuple(buf.shape)}"
        )
        assert buf.dtype == torch.float32, f"default dtype is float32, got {buf.dtype}"
        assert buf.device.type == "cpu"


def test_update_writes_each_token_at_its_own_sequence_position() -> None:
    cache = sol.KVCache(2, 3, 12, 2, 4)
    _write(cache, 0, [0, 0, 0], 5, 2, 4)
    _write(cache, 0, [5, 2, 4], 2, 2, 4)  # ragged: each sequence continues at its own position
    got = ids_of(cache.k[0])
    assert got[0][5:7] == [5, 6], f"sequence 0 writes positions 5, 6; cache.k holds {got[0][:8]}"
    assert got[1][2:4] == [1002, 1003], f"sequence 1 writes positions 2, 3; got {got[1][:8]}"
    assert got[2][4:6] == [2004, 2005], f"sequence 2 writes positions 4, 5; got {got[2][:8]}"
    assert ids_of(cache.v[0] - V_TAG)[1][2:4] == [1002, 1003], "values go where their keys go"


def test_update_returns_keys_up_to_the_longest_sequence_in_time_order() -> None:
    cache = sol.KVCache(1, 2, 16, 2, 4)
    _write(cache, 0, [0, 0], 6, 2, 4)
    k, v, _ = _write(cache, 0, [6, 3], 1, 2, 4)
    assert tuple(k.shape) == (2, 7, 2, 4), (
        f"update must return [batch, max(start_pos) + T, ...] = (2, 7, 2, 4), got {tuple(k.shape)}"
    )
    assert tuple(v.shape) == (2, 7, 2, 4)
    assert ids_of(k)[0] == list(range(7)), f"sequence 0 reads positions 0..6, got {ids_of(k)[0]}"
    assert ids_of(k)[1][:4] == [1000, 1001, 1002, 1003], f"sequence 1: {ids_of(k)[1][:4]}"
    assert ids_of(v - V_TAG)[0] == list(range(7))


def test_lengths_are_start_pos_plus_new_tokens_per_sequence() -> None:
    cache = sol.KVCache(1, 3, 20, 1, 2)
    _write(cache, 0, [0, 0, 0], 8, 1, 2)
    _, _, lengths = _write(cache, 0, [8, 2, 5], 3, 1, 2)
    assert lengths.tolist() == [11, 5, 8], f"lengths must be start_pos + T, got {lengths.tolist()}"
    assert lengths.dtype == torch.long, f"lengths must be int64, got {lengths.dtype}"


def test_update_returns_views_of_the_cache_not_copies() -> None:
    cache = sol.KVCache(2, 2, 32, 2, 4)
    k_new, v_new = marked(2, [0, 0], 5, 2, 4, 0.0), marked(2, [0, 0], 5, 2, 4, V_TAG)
    # The results stay in the solution's process: writing through them there, then
    # reading cache.k / cache.v, shows whether they alias the buffers.
    k, v, _ = keep(cache.update, 1, k_new, v_new, positions(0, 0))
    assert tuple(fetch(k).shape) == tuple(fetch(v).shape) == (2, 5, 2, 4), (
        f"update must return [batch, L, ...] = (2, 5, 2, 4), got {tuple(fetch(k).shape)}"
    )
    # Distinct negative values: each element of the view says where it must land.
    mark = -1.0 - torch.arange(2 * 5 * 2 * 4, dtype=torch.float32).reshape(2, 5, 2, 4)
    for name, view in (("k", k), ("v", v)):
        before = getattr(cache, name)  # [2 layers, 2, 32, 2, 4]
        view.copy_(mark)
        after = getattr(cache, name)
        assert not torch.equal(after, before), (
            f"the {'keys' if name == 'k' else 'values'} update returns must be a view of "
            f"cache.{name} (no copy): a write through them left cache.{name} unchanged"
        )
        expect = before.clone()
        expect[1, :, :5] = mark
        assert torch.equal(after, expect), (
            f"the view must be cache.{name}[layer, :, :L], starting at cache.{name}[layer, 0, 0]: "
            "a write through it landed elsewhere"
        )
    buf = keep_attr(cache, "k")
    buf[1, 1, 3, 0, 0] = -7.0
    assert float(fetch(k)[1, 3, 0, 0]) == -7.0, (
        "a write into cache.k must show through the returned view"
    )


def test_update_writes_in_place_and_never_reallocates_the_buffers() -> None:
    cache = sol.KVCache(1, 2, 64, 2, 4)
    # The buffers as constructed, kept in the solution's process: if update rebuilds
    # them, these stop receiving its writes.
    k_buf, v_buf = keep_attr(cache, "k"), keep_attr(cache, "v")
    _write(cache, 0, [0, 0], 4, 2, 4)
    for step in range(4, 60):
        _write(cache, 0, [step, step], 1, 2, 4)
        k_ids, v_ids = ids_of(fetch(k_buf)[0]), ids_of(fetch(v_buf)[0] - V_TAG)
        assert k_ids[1][step] == v_ids[1][step] == 1000 + step, (
            f"cache.k / cache.v moved at step {step}: the buffers made in __init__ no longer "
            "receive the appended tokens; append must write into the preallocated buffers, "
            "never rebuild them (torch.cat copies the whole cache)"
        )
    k_buf[0, 0, 63, 0, 0] = -3.0
    v_buf[0, 0, 63, 0, 0] = -3.0
    assert float(cache.k[0, 0, 63, 0, 0]) == float(cache.v[0, 0, 63, 0, 0]) == -3.0, (
        "cache.k / cache.v must still be the buffers made in __init__: a write into those "
        "does not show in them"
    )
    assert ids_of(cache.k[0])[1][:60] == [1000 + p for p in range(60)], (
        "every appended token must be in cache.k at its position"
    )


def test_layers_are_independent() -> None:
    cache = sol.KVCache(3, 2, 16, 1, 2)
    _write(cache, 0, [0, 0], 4, 1, 2)
    k1 = torch.full((2, 6, 1, 2), 9.0)
    k, _, lengths = call(cache, 1, k1, -k1, [0, 0])  # layer 1 alone, at other positions
    assert ids_of(k) == [[9] * 6] * 2 and lengths.tolist() == [6, 6]
    k0, _, _ = _write(cache, 0, [4, 4], 1, 1, 2)
    assert ids_of(k0) == [list(range(5)), [1000 + p for p in range(5)]], (
        f"writing layer 1 must not change layer 0, got {ids_of(k0)}"
    )
    call(cache, 2, torch.ones(2, 1, 1, 2), torch.ones(2, 1, 1, 2), [2, 7])
    assert ids_of(cache.k[2])[0][2] == 1 and ids_of(cache.k[2])[1][7] == 1, (
        "layer 2, first written at positions [2, 7], must be written there"
    )
    assert ids_of(cache.k[1])[0][:6] == [9] * 6, "layer 1 keeps its own keys"


def test_rewriting_a_position_overwrites_it_and_keeps_the_length() -> None:
    cache = sol.KVCache(1, 1, 8, 1, 1)
    call(cache, 0, torch.ones(1, 5, 1, 1), torch.ones(1, 5, 1, 1), [0])
    for value in (2.0, 3.0):
        x = torch.full((1, 1, 1, 1), value)
        k, _, lengths = call(cache, 0, x, x, [5])
        assert k.shape[1] == 6 and lengths.tolist() == [6]
        assert float(k[0, 5]) == value, f"position 5 must hold the latest write {value}"


def test_a_sequence_restarting_at_position_zero_reads_only_its_new_tokens() -> None:
    cache = sol.KVCache(1, 2, 16, 1, 2)
    _write(cache, 0, [0, 0], 9, 1, 2)
    k, _, lengths = _write(cache, 0, [9, 0], 1, 1, 2)  # row 1 now holds a new sequence
    assert lengths.tolist() == [10, 1], f"lengths must be [10, 1], got {lengths.tolist()}"
    assert ids_of(k)[1][0] == 1000, "the new sequence's first token sits at position 0"


def test_filling_max_seq_len_exactly_is_allowed() -> None:
    cache = sol.KVCache(1, 2, 6, 1, 2)
    _write(cache, 0, [0, 0], 5, 1, 2)
    k, _, lengths = _write(cache, 0, [5, 5], 1, 1, 2)
    assert tuple(k.shape) == (2, 6, 1, 2) and lengths.tolist() == [6, 6]
    assert ids_of(k)[1] == [1000 + p for p in range(6)]


def test_chunked_prefill_writes_each_chunk_after_the_last() -> None:
    cache = sol.KVCache(1, 2, 16, 2, 3)
    x = randn(2, 11, 2, 3, seed=1)
    call(cache, 0, x[:, :4], x[:, :4] + 1, [0, 0])
    call(cache, 0, x[:, 4:9], x[:, 4:9] + 1, [4, 4])
    k, v, lengths = call(cache, 0, x[:, 9:], x[:, 9:] + 1, [9, 9])
    torch.testing.assert_close(k, x, msg="three chunks must read back as the whole sequence")
    torch.testing.assert_close(v, x + 1)
    assert lengths.tolist() == [11, 11]


def test_update_accepts_start_pos_as_an_int64_tensor_and_returns_the_cache_dtype() -> None:
    cache = sol.KVCache(1, 2, 8, 1, 2, dtype=torch.float64)
    x = randn(2, 3, 1, 2, seed=2, dtype=torch.float64)
    k, v, lengths = cache.update(0, x, x, positions(0, 0))
    assert k.dtype == v.dtype == torch.float64, f"float64 cache returned {k.dtype}"
    torch.testing.assert_close(k, x)
    assert lengths.tolist() == [3, 3]


def test_buffers_are_zero_filled_at_construction() -> None:
    # Last in the file: with torch.empty, the NaN it leaves in freed memory would
    # surface in later tests' unwritten slots as well.
    shape = (1, 2, 16, 4, 32)
    cache = built_over_garbage(lambda: sol.KVCache(*shape), shape)
    for name in ("k", "v"):
        bad = nonzero_entries(getattr(cache, name))
        assert bad == 0, (
            f"__init__ must zero-fill cache.{name}: {bad} of {math.prod(shape)} entries are "
            "not 0 (torch.empty leaves whatever the memory held, NaN included)"
        )
