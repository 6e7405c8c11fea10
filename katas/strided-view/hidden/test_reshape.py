"""view and reshape: torch's chunk rule, -1, and copying exactly when torch copies."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import arange, check_copy, check_exact_copy, check_layout, check_view, make, precise


def test_view_of_a_contiguous_tensor_is_row_major_and_shares_storage() -> None:
    ours, theirs = make(arange(30), (4, 6), (6, 1), 3)
    check_view(
        ours.view([2, 3, 4]), theirs.view(2, 3, 4), ours, "(4, 6) at offset 3 .view([2, 3, 4])"
    )


def test_minus_one_is_inferred_from_the_other_sizes() -> None:
    ours, theirs = make(arange(24), (4, 6))
    check_view(ours.view([2, -1, 3]), theirs.view(2, -1, 3), ours, "(4, 6).view([2, -1, 3])")
    ours, theirs = make(arange(24), (4, 6))
    check_view(ours.reshape([-1]), theirs.reshape(-1), ours, "(4, 6).reshape([-1])")


@pytest.mark.parametrize("shape", [[-1, -1], [5, -1], [0, -1], [7], [2, 0, 12], [4, -2, 3]])
def test_impossible_shapes_raise_value_error(shape: list[int]) -> None:
    t = sol.StridedTensor(arange(24), (4, 6))
    with pytest.raises(ValueError):
        t.view(shape)
    with pytest.raises(ValueError):
        t.reshape(shape)


def test_a_transposed_tensor_splits_each_chunk_as_a_view() -> None:
    ours, theirs = make(arange(24), (4, 6))
    tt, ttt = ours.transpose(0, 1), theirs.transpose(0, 1)
    check_view(
        tt.view([3, 2, 4]), ttt.view(3, 2, 4), ours, "(4, 6).transpose(0, 1).view([3, 2, 4])"
    )


def test_view_that_straddles_two_chunks_raises_value_error() -> None:
    t = sol.StridedTensor(arange(24), (6, 4), (1, 6))
    for shape in ([24], [2, 12], [12, 2], [3, 8]):
        with pytest.raises(ValueError):
            t.view(shape)


def test_reshape_views_a_non_contiguous_tensor_when_strides_allow() -> None:
    ours, theirs = make(arange(24), (6, 4), (1, 6))
    check_view(
        ours.reshape([3, 2, 2, 2]),
        theirs.reshape(3, 2, 2, 2),
        ours,
        "(6, 4) with strides (1, 6) .reshape([3, 2, 2, 2]) (torch views here)",
    )


def test_reshape_copies_when_a_view_is_impossible() -> None:
    ours, theirs = make(arange(24), (6, 4), (1, 6))
    check_copy(ours.reshape([24]), theirs.reshape(24), ours, "(6, 4)/(1, 6).reshape([24])")


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64], ids=str)
def test_a_reshape_that_copies_keeps_the_storage_dtype_and_exact_values(
    dtype: torch.dtype,
) -> None:
    ours, theirs = make(precise(24, dtype), (6, 4), (1, 6))
    check_exact_copy(
        ours.reshape([24]), theirs.reshape(24), ours, f"(6, 4)/(1, 6).reshape([24]) over {dtype}"
    )


def test_narrowed_rows_view_within_a_row_and_copy_across_rows() -> None:
    ours, theirs = make(arange(24), (4, 6))
    n, tn = ours.narrow(1, 1, 4), theirs.narrow(1, 1, 4)
    check_view(
        n.reshape([4, 2, 2]), tn.reshape(4, 2, 2), ours, "(4, 6).narrow(1, 1, 4).reshape([4, 2, 2])"
    )
    ours, theirs = make(arange(24), (4, 6))
    n, tn = ours.narrow(1, 1, 4), theirs.narrow(1, 1, 4)
    check_copy(n.reshape([16]), tn.reshape(16), ours, "(4, 6).narrow(1, 1, 4).reshape([16])")


def test_size_one_dimensions_never_break_a_chunk() -> None:
    ours, theirs = make(arange(30), (2, 1, 3), (3, 99, 1), 5)
    check_view(ours.view([6]), theirs.view(6), ours, "(2, 1, 3) strides (3, 99, 1) .view([6])")
    ours, theirs = make(arange(30), (3, 1, 2), (1, 7, 3), 0)
    check_view(
        ours.reshape([1, 3, 1, 2, 1]),
        theirs.reshape(1, 3, 1, 2, 1),
        ours,
        "(3, 1, 2) strides (1, 7, 3) .reshape([1, 3, 1, 2, 1])",
    )


def test_view_keeps_the_offset() -> None:
    ours, theirs = make(arange(40), (4, 6), (6, 1), 11)
    check_view(ours.view([8, 3]), theirs.view(8, 3), ours, "(4, 6) at offset 11 .view([8, 3])")


def test_reshape_of_an_expanded_tensor_views_or_copies_as_torch_does() -> None:
    ours, theirs = make(arange(24), (3, 1), (1, 1))
    e, te = ours.expand([2, 3, 4]), theirs.expand(2, 3, 4)
    check_view(
        e.reshape([2, 3, 2, 2]),
        te.reshape(2, 3, 2, 2),
        ours,
        "expanded (2, 3, 4) .reshape([2, 3, 2, 2])",
    )
    ours, theirs = make(arange(24), (3, 1), (1, 1))
    e, te = ours.expand([2, 3, 4]), theirs.expand(2, 3, 4)
    check_copy(e.reshape([6, 4]), te.reshape(6, 4), ours, "expanded (2, 3, 4) .reshape([6, 4])")


def test_zero_d_and_all_ones_shapes_view_each_other() -> None:
    ours, theirs = make(arange(10), (), (), 4)
    check_view(ours.view([1, 1]), theirs.view(1, 1), ours, "a 0-d tensor .view([1, 1])")
    ours, theirs = make(arange(10), (1, 1), (5, 3), 2)
    check_layout(ours.reshape([]), theirs.reshape(()), "(1, 1).reshape([])")
