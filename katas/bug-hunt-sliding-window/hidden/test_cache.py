"""RollingCache: W slots, position p in slot p % W, reads in time order."""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol
import torch

V_TAG = 1000.0


def marked(start: int, t: int, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """k, v [batch, t, 1, 1] whose values are the positions (v offset by V_TAG)."""
    pos = torch.arange(start, start + t, dtype=torch.float32)
    k = pos[None, :, None, None].repeat(batch, 1, 1, 1)
    return k, k + V_TAG


def held(x: torch.Tensor) -> list[int]:
    return [int(p) for p in x[0, :, 0, 0].tolist()]


def feed(cache: Any, n: int, chunk: int = 1) -> None:
    for s in range(0, n, chunk):
        k, v = marked(s, min(chunk, n - s))
        cache.write(k, v, s)


def test_cache_buffers_hold_exactly_w_slots() -> None:
    cache = sol.RollingCache(2, 5, 3, 4)
    for name in ("k", "v"):
        shape = tuple(getattr(cache, name).shape)
        assert shape == (2, 5, 3, 4), (
            f"cache.{name} must be [batch, window, n_kv_heads, head_dim] = (2, 5, 3, 4), "
            f"got {shape}"
        )
    assert cache.pos == 0, f"a new cache has seen 0 tokens, pos is {cache.pos}"


def test_cache_puts_position_p_in_slot_p_mod_w() -> None:
    cache = sol.RollingCache(1, 4, 1, 1)
    feed(cache, 7)
    assert held(cache.k) == [4, 5, 6, 3], (
        f"after positions 0..6 with W=4, slots 0..3 hold [4, 5, 6, 3]; got {held(cache.k)}"
    )
    assert [p - int(V_TAG) for p in held(cache.v)] == [4, 5, 6, 3], "values follow keys"
    assert cache.pos == 7, f"pos counts the tokens written: expected 7, got {cache.pos}"


def test_cache_read_before_the_window_fills_is_every_token_in_order() -> None:
    cache = sol.RollingCache(1, 4, 1, 1)
    feed(cache, 3)
    k, v = cache.read(3)
    assert held(k) == [0, 1, 2], f"3 tokens in W=4: the read is [0, 1, 2], got {held(k)}"
    assert [p - int(V_TAG) for p in held(v)] == [0, 1, 2]


@pytest.mark.parametrize("end", [4, 5, 6, 7, 9, 10, 11, 13])
def test_cache_read_after_the_wrap_is_the_last_w_positions_oldest_first(end: int) -> None:
    cache = sol.RollingCache(1, 4, 1, 1)
    feed(cache, end)
    k, v = cache.read(end)
    want = list(range(end - 4, end))
    assert held(k) == want, (
        f"after {end} tokens with W=4 the read must be positions {want} (oldest first), "
        f"got {held(k)}"
    )
    assert [p - int(V_TAG) for p in held(v)] == want, "values are read in the same order"


def test_cache_chunk_longer_than_the_window_keeps_its_last_w_tokens() -> None:
    cache = sol.RollingCache(1, 4, 1, 1)
    k, v = marked(0, 10)
    cache.write(k, v, 0)
    assert held(cache.k) == [8, 9, 6, 7], (
        "a 10-token chunk into W=4 keeps positions 6..9 in slots 2, 3, 0, 1: "
        f"expected slots [8, 9, 6, 7], got {held(cache.k)}"
    )
    assert held(cache.read(10)[0]) == [6, 7, 8, 9]
    assert cache.pos == 10


def test_cache_chunked_writes_equal_token_by_token_writes() -> None:
    one = sol.RollingCache(1, 5, 1, 1)
    chunked = sol.RollingCache(1, 5, 1, 1)
    feed(one, 17)
    feed(chunked, 17, chunk=3)
    assert held(one.k) == held(chunked.k), (
        f"17 tokens in chunks of 3 must leave the slots token-by-token writes leave "
        f"({held(one.k)}), got {held(chunked.k)}"
    )
