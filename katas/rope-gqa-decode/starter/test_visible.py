"""A few examples from the prompt. Run with `drill test` (or pytest)."""

from __future__ import annotations

import math

import solution as sol
import torch


def test_both_layouts_on_the_worked_example() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    half = sol.apply_rope_half(x, 1)
    inter = sol.apply_rope_interleaved(x, 1)
    torch.testing.assert_close(
        half.flatten(), torch.tensor([-1.9841, 1.9599, 2.4624, 4.0198]), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(
        inter.flatten(), torch.tensor([-1.1426, 1.9221, 2.9599, 4.0298]), atol=1e-4, rtol=0
    )


def test_a_ragged_offset_sets_each_sequences_positions() -> None:
    x = torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(2, 3, 1, 4)
    out = sol.apply_rope_half(x, torch.tensor([5, 0]))
    for b, start in enumerate([5, 0]):
        for t in range(3):
            p = start + t
            expected = torch.tensor([math.cos(p), 0.0, math.sin(p), 0.0])
            torch.testing.assert_close(out[b, t, 0], expected)


def test_conversion_orders_rows_within_each_head() -> None:
    rows = torch.arange(16.0)[:, None]
    to_half = [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15]
    to_interleaved = [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15]
    assert sol.interleaved_to_half(rows, 2).flatten().tolist() == to_half
    assert sol.half_to_interleaved(rows, 2).flatten().tolist() == to_interleaved


def test_decode_attention_worked_example() -> None:
    q = torch.tensor([[[2.0, 0.0, 0.0, 0.0]]])
    k = torch.tensor([[[[0.0, 0, 0, 0], [math.log(3), 0, 0, 0], [100.0, 100, 100, 100]]]])
    v = torch.tensor([[[[4.0, 0, 0, 0], [0.0, 8, 0, 0], [100.0, 100, 100, 100]]]])
    out = sol.decode_attention(q, k, v, torch.tensor([2]))
    torch.testing.assert_close(out, torch.tensor([[[1.0, 6.0, 0.0, 0.0]]]))


def test_decode_step_writes_at_lengths_and_leaves_lengths_alone() -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 8, generator=g)
    k = torch.randn(2, 2, 8, generator=g)
    v = torch.randn(2, 2, 8, generator=g)
    k_cache = torch.randn(2, 2, 5, 8, generator=g)
    v_cache = torch.randn(2, 2, 5, 8, generator=g)
    lengths = torch.tensor([3, 1])
    out = sol.decode_step(q, k, v, k_cache, v_cache, lengths)
    assert out.shape == (2, 4, 8)
    assert lengths.tolist() == [3, 1]
    torch.testing.assert_close(v_cache[0, :, 3], v[0])
    torch.testing.assert_close(v_cache[1, :, 1], v[1])
    rotated = sol.apply_rope_half(k[:, None], lengths)[:, 0]
    torch.testing.assert_close(k_cache[0, :, 3], rotated[0])
