"""A few examples from the prompt. Run with `drill test`."""

from __future__ import annotations

import pytest
import torch
from solution import StridedTensor


def grid() -> StridedTensor:
    return StridedTensor(torch.arange(24.0), (4, 6))


def test_default_strides_are_row_major_and_lookup_accepts_negative_indices() -> None:
    t = grid()
    assert t.strides == (6, 1) and t.offset == 0
    assert t[-1, -2] == 22.0


def test_transpose_is_a_view_and_view_splits_a_chunk() -> None:
    t = grid()
    tt = t.transpose(0, 1)
    assert (tt.shape, tt.strides, tt.is_contiguous()) == ((6, 4), (1, 6), False)
    v = tt.view([3, 2, 4])
    assert (v.shape, v.strides, v.offset) == ((3, 2, 4), (2, 1, 6), 0)
    v[0, 1, 2] = -1.0
    assert t[2, 1] == -1.0  # the same storage


def test_view_that_straddles_chunks_fails_and_reshape_copies() -> None:
    tt = grid().transpose(0, 1)
    with pytest.raises(ValueError):
        tt.view([24])
    r = tt.reshape([24])
    assert r.storage is not tt.storage and r.strides == (1,)
    assert [r[i] for i in range(5)] == [0.0, 6.0, 12.0, 18.0, 1.0]


def test_narrow_moves_the_offset_and_size_one_dims_do_not_break_contiguity() -> None:
    n = grid().narrow(1, 1, 4)
    assert (n.shape, n.strides, n.offset, n.is_contiguous()) == ((4, 4), (6, 1), 1, False)
    odd = StridedTensor(torch.arange(24.0), (2, 1, 3), (3, 99, 1), 5)
    assert odd.is_contiguous() and odd.contiguous() is odd


def test_expand_gives_stride_zero() -> None:
    c = StridedTensor(torch.arange(24.0), (3, 1), (1, 1))
    e = c.expand([2, 3, 4])
    assert (e.shape, e.strides) == ((2, 3, 4), (0, 1, 0))
    assert e[1, 2, 3] == 2.0
