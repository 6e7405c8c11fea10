"""A few examples from the prompt. Run them with `drill test`; the hidden suite goes further."""

from __future__ import annotations

import torch
from solution import KVCache, RollingKVCache


def tokens(values: list[list[float]]) -> torch.Tensor:
    """[batch, T, 1, 1]: one kv head of size 1, so every token is a single number."""
    return torch.tensor(values, dtype=torch.float32)[:, :, None, None]


def read(x: torch.Tensor) -> list[list[float]]:
    return x[:, :, 0, 0].tolist()


def test_contiguous_cache_writes_at_each_sequence_position_and_returns_views() -> None:
    cache = KVCache(1, 2, 8, 1, 1)
    cache.update(
        0,
        tokens([[0, 1, 2], [10, 11, 12]]),
        tokens([[0, 1, 2], [10, 11, 12]]),
        torch.tensor([0, 0]),
    )
    k, _, lengths = cache.update(
        0, tokens([[3], [11.5]]), tokens([[3], [11.5]]), torch.tensor([3, 1])
    )
    assert lengths.tolist() == [4, 2]
    assert tuple(k.shape) == (2, 4, 1, 1)  # L = max(start_pos) + T
    assert read(k)[0] == [0, 1, 2, 3]
    assert read(k)[1][:2] == [10, 11.5]  # sequence 1 overwrote its position 1
    assert k.untyped_storage().data_ptr() == cache.k.untyped_storage().data_ptr()


def test_rolling_cache_worked_example() -> None:
    cache = RollingKVCache(1, 1, 4, 1, 1)
    for p in range(7):
        x = tokens([[float(p)]])
        k, _, lengths = cache.update(0, x, x, torch.tensor([p]))
    assert read(cache.k[0])[0] == [4, 5, 6, 3]  # slot p % 4 holds position p
    assert read(k)[0] == [3, 4, 5, 6]  # time order, oldest first
    assert lengths.tolist() == [4]


def test_rolling_prefill_longer_than_the_window_keeps_the_last_window() -> None:
    cache = RollingKVCache(1, 1, 4, 1, 1)
    x = tokens([[0, 1, 2, 3, 4, 5]])
    k, _, lengths = cache.update(0, x, x, torch.tensor([0]))
    assert read(cache.k[0])[0] == [4, 5, 2, 3]
    assert read(k)[0] == [2, 3, 4, 5]
    assert lengths.tolist() == [4]
