"""transpose, permute, narrow, expand: layouts, negative dimensions, errors, sharing."""

from __future__ import annotations

import pytest
import solution as sol
from oracle import arange, check_view, make


def test_transpose_swaps_sizes_and_strides() -> None:
    ours, theirs = make(arange(60), (3, 4, 5))
    check_view(ours.transpose(0, 2), theirs.transpose(0, 2), ours, "(3, 4, 5).transpose(0, 2)")


def test_transpose_takes_negative_dimensions_and_the_same_dimension_twice() -> None:
    ours, theirs = make(arange(60), (3, 4, 5))
    check_view(ours.transpose(-1, 0), theirs.transpose(-1, 0), ours, "(3, 4, 5).transpose(-1, 0)")
    ours, theirs = make(arange(60), (3, 4, 5))
    check_view(ours.transpose(1, -2), theirs.transpose(1, -2), ours, "(3, 4, 5).transpose(1, -2)")


def test_dimensions_out_of_range_raise_index_error() -> None:
    t = sol.StridedTensor(arange(24), (4, 6))
    with pytest.raises(IndexError):
        t.transpose(0, 2)
    with pytest.raises(IndexError):
        t.transpose(-3, 0)
    with pytest.raises(IndexError):
        t.permute([0, 2])
    with pytest.raises(IndexError):
        t.narrow(2, 0, 1)


def test_permute_moves_sizes_and_strides_together() -> None:
    ours, theirs = make(arange(120), (2, 3, 4, 5), (60, 20, 5, 1), 0)
    check_view(
        ours.permute([2, 0, 3, 1]),
        theirs.permute(2, 0, 3, 1),
        ours,
        "(2, 3, 4, 5).permute([2, 0, 3, 1])",
    )
    ours, theirs = make(arange(120), (2, 3, 4, 5))
    check_view(
        ours.permute([-1, 0, -2, 1]), theirs.permute(-1, 0, -2, 1), ours, "permute([-1, 0, -2, 1])"
    )


@pytest.mark.parametrize("dims", [[0, 0, 1], [0, 1], [0, 1, 2, 0], [2, -1, 0]])
def test_permute_rejects_what_is_not_a_permutation(dims: list[int]) -> None:
    t = sol.StridedTensor(arange(24), (2, 3, 4))
    with pytest.raises(ValueError):
        t.permute(dims)


def test_narrow_moves_the_offset_by_start_times_the_stride() -> None:
    ours, theirs = make(arange(60), (3, 4, 5))
    check_view(ours.narrow(1, 1, 2), theirs.narrow(1, 1, 2), ours, "(3, 4, 5).narrow(1, 1, 2)")
    ours, theirs = make(arange(60), (3, 4, 5))
    t2, th2 = ours.transpose(0, 2), theirs.transpose(0, 2)
    check_view(
        t2.narrow(0, 2, 3), th2.narrow(0, 2, 3), ours, "(3, 4, 5).transpose(0, 2).narrow(0, 2, 3)"
    )


def test_narrow_takes_a_negative_start_and_a_negative_dimension() -> None:
    ours, theirs = make(arange(60), (3, 4, 5))
    check_view(
        ours.narrow(-1, -3, 2), theirs.narrow(-1, -3, 2), ours, "(3, 4, 5).narrow(-1, -3, 2)"
    )


@pytest.mark.parametrize(("start", "length"), [(5, 1), (-6, 1), (3, 3), (0, 0), (0, 6), (-1, 2)])
def test_narrow_out_of_bounds_raises_value_error(start: int, length: int) -> None:
    t = sol.StridedTensor(arange(30), (5, 6))
    with pytest.raises(ValueError):
        t.narrow(0, start, length)


def test_expand_gives_size_one_dimensions_stride_zero() -> None:
    ours, theirs = make(arange(24), (3, 1), (2, 5), 1)
    check_view(ours.expand([3, 4]), theirs.expand(3, 4), ours, "(3, 1).expand([3, 4])")


def test_expand_adds_leading_dimensions_with_stride_zero_and_keeps_minus_one() -> None:
    ours, theirs = make(arange(24), (3, 1), (1, 1))
    check_view(ours.expand([2, 3, 4]), theirs.expand(2, 3, 4), ours, "(3, 1).expand([2, 3, 4])")
    ours, theirs = make(arange(24), (2, 3))
    check_view(
        ours.expand([4, -1, -1]), theirs.expand(4, -1, -1), ours, "(2, 3).expand([4, -1, -1])"
    )


@pytest.mark.parametrize("shape", [[4, 6], [3], [-1, 2, 3], [2, 2, 3, 0]])
def test_expand_rejects_what_broadcasting_does_not_allow(shape: list[int]) -> None:
    t = sol.StridedTensor(arange(24), (2, 3))
    with pytest.raises(ValueError):
        t.expand(shape)


@pytest.mark.parametrize("shape", [[3, 0], [3, -2], [0, 3, 1], [-2, 3, 1]])
def test_expand_rejects_sizes_below_one_for_size_one_and_new_dimensions(shape: list[int]) -> None:
    t = sol.StridedTensor(arange(24), (3, 1))
    try:
        e = t.expand(shape)
    except ValueError:
        return
    pytest.fail(
        f"(3, 1).expand({shape}) must raise ValueError: a size-1 dimension may take any size "
        "of at least 1, a new leading dimension too, and every size is at least 1 in this "
        f"kata (no empty tensors); it returned shape {tuple(e.shape)}"
    )


def test_a_write_through_an_expanded_tensor_shows_at_every_broadcast_position() -> None:
    t = sol.StridedTensor(arange(24), (3, 1), (1, 1))
    e = t.expand([2, 3, 4])
    e[1, 2, 3] = -1.0
    got = [e[i, 2, j] for i in range(2) for j in range(4)]
    assert got == [-1.0] * 8, f"e[:, 2, :] share one storage element, got {got}"
    assert t[2, 0] == -1.0, "the write must land in the source's storage"


def test_a_chain_of_views_writes_into_the_original_storage() -> None:
    t = sol.StridedTensor(arange(120), (4, 5, 6))
    v = t.permute([2, 0, 1]).narrow(1, 1, 2).narrow(-1, 1, 3).transpose(0, 2)  # (3, 2, 6)
    v[2, 1, 5] = -2.0  # t[2, 3, 5]
    assert t[2, 3, 5] == -2.0, "a chain of views must address the original storage"
    storage = t.storage
    assert int((storage == -2.0).sum()) == 1
