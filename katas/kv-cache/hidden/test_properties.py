"""Random shapes and schedules against the obvious model (a dict per sequence).

Each example draws cache dimensions, then a schedule of updates: per call one chunk
length T shared by the batch, and per sequence either "append" (start_pos = its
length) or "restart" (start_pos = 0, a new sequence in that row). After every
update the read must equal, per sequence, the tokens the slow model says attention
needs, in time order; the rolling cache's slots must follow `p % W`.
"""

from __future__ import annotations

from typing import Any

import solution as sol
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import SlowCache, call, randn

dims = st.fixed_dictionaries(
    {
        "n_layers": st.integers(1, 3),
        "batch": st.integers(1, 4),
        "n_kv": st.integers(1, 3),
        "head_dim": st.sampled_from([1, 2, 4, 8]),
    }
)


@st.composite
def schedules(draw: st.DrawFn, batch: int, n_layers: int, limit: int | None) -> list[Any]:
    """[(layer, T, restart flags per sequence)], keeping every sequence within `limit`."""
    lengths = [0] * batch
    out = []
    for _ in range(draw(st.integers(1, 12))):
        t = draw(st.integers(1, 6))
        restart = draw(st.lists(st.booleans(), min_size=batch, max_size=batch))
        start = [0 if r else n for r, n in zip(restart, lengths, strict=True)]
        if limit is not None and max(start) + t > limit:
            start = [0] * batch
        lengths = [s + t for s in start]
        out.append((t, start))
    return [(layer, t, start) for t, start in out for layer in range(n_layers)]


def _run(
    cache: Any, slow: SlowCache, plan: list[Any], d: dict[str, int], window: int | None
) -> None:
    for i, (layer, t, start) in enumerate(plan):
        k = randn(d["batch"], t, d["n_kv"], d["head_dim"], seed=i)
        v = randn(d["batch"], t, d["n_kv"], d["head_dim"], seed=10_000 + i)
        k_all, v_all, lengths = call(cache, layer, k, v, start)
        want = slow.update(layer, k, v, start)
        ends = [s + t for s in start]
        expect_len = ends if window is None else [min(e, window) for e in ends]
        assert lengths.tolist() == expect_len, (
            f"call {i}: lengths {lengths.tolist()} != {expect_len}"
        )
        expect_l = max(ends) if window is None else min(window, max(ends))
        assert k_all.shape[1] == expect_l, f"call {i}: L = {k_all.shape[1]}, expected {expect_l}"
        for b, (wk, wv) in enumerate(want):
            n = expect_len[b]
            assert torch.equal(k_all[b, :n], wk) and torch.equal(v_all[b, :n], wv), (
                f"call {i} (layer {layer}, start_pos {start}, T={t}): sequence {b} read back "
                "other keys/values than it wrote, in time order"
            )
            if window is not None:
                first = ends[b] - n
                slots = [p % window for p in range(first, ends[b])]
                assert torch.equal(cache.k[layer, b, slots], wk), (
                    f"call {i}: sequence {b}'s position p must sit in slot p % {window}"
                )


@settings(max_examples=30)
@given(data=st.data(), d=dims, spare=st.integers(0, 5))
def test_contiguous_cache_matches_the_obvious_model(
    data: st.DataObject, d: dict[str, int], spare: int
) -> None:
    plan = data.draw(schedules(d["batch"], d["n_layers"], 20))
    need = max(max(start) + t for _, t, start in plan)
    cache = sol.KVCache(d["n_layers"], d["batch"], need + spare, d["n_kv"], d["head_dim"])
    _run(cache, SlowCache(d["n_layers"], d["batch"], None), plan, d, None)


@settings(max_examples=30)
@given(data=st.data(), d=dims, window=st.integers(1, 9))
def test_rolling_cache_matches_the_obvious_model(
    data: st.DataObject, d: dict[str, int], window: int
) -> None:
    plan = data.draw(schedules(d["batch"], d["n_layers"], None))
    cache = sol.RollingKVCache(d["n_layers"], d["batch"], window, d["n_kv"], d["head_dim"])
    _run(cache, SlowCache(d["n_layers"], d["batch"], window), plan, d, window)
