"""Construction, element lookup and writes, numel, contiguity, contiguous()."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import arange, check_copy, check_exact_copy, check_view, layout, make, precise


def test_default_strides_are_row_major() -> None:
    for shape, want in [((2, 3, 4), (12, 4, 1)), ((5,), (1,)), ((3, 1, 2), (2, 2, 1))]:
        t = sol.StridedTensor(arange(24), shape)
        assert layout(t) == (shape, want, 0), (
            f"StridedTensor(storage, {shape}) must have row-major strides {want} and offset 0, "
            f"got {layout(t)}"
        )


def test_a_zero_d_tensor_has_one_element_at_its_offset() -> None:
    t = sol.StridedTensor(arange(10), (), (), 7)
    assert t.numel() == 1, f"shape () holds one element, numel() gave {t.numel()}"
    assert t[()] == 7.0, f"t[()] must read storage[offset] = 7.0, got {t[()]}"


def test_numel_is_the_product_of_the_sizes() -> None:
    t = sol.StridedTensor(arange(100), (3, 1, 4), (20, 5, 2), 3)
    assert t.numel() == 12, f"numel() of shape (3, 1, 4) is 12, got {t.numel()}"


def test_lookup_uses_strides_and_offset() -> None:
    t = sol.StridedTensor(arange(100), (3, 4), (1, 10), 5)  # column-major with an offset
    for i, j in [(0, 0), (2, 0), (1, 3), (2, 3)]:
        want = 5 + i * 1 + j * 10
        assert t[i, j] == want, (
            f"t[{i}, {j}] is storage[5 + {i}*1 + {j}*10] = {want}, got {t[i, j]}"
        )


def test_lookup_counts_negative_indices_from_the_end() -> None:
    t = sol.StridedTensor(arange(24), (4, 6))
    assert t[-1, -2] == 22.0, f"t[-1, -2] of a (4, 6) grid is t[3, 4] = 22.0, got {t[-1, -2]}"
    one = sol.StridedTensor(arange(10), (5,), (2,), 1)
    assert one[-5] == 1.0 and one[4] == 9.0, "a 1-D tensor takes one int index, negative ones too"


def test_lookup_rejects_out_of_range_and_wrong_counts_with_index_error() -> None:
    t = sol.StridedTensor(arange(24), (4, 6))
    for bad in [(4, 0), (0, 6), (-5, 0), (0, -7), (1,), (1, 1, 1)]:
        with pytest.raises(IndexError):
            t[bad]


@pytest.mark.parametrize("bad", [(4, 0), (0, 6), (-5, 0), (0, -7), (1,), (1, 1, 1)])
def test_writes_reject_out_of_range_and_wrong_counts_and_change_nothing(
    bad: tuple[int, ...],
) -> None:
    # The storage runs past the (4, 6) grid, so an unchecked write lands somewhere in it.
    t = sol.StridedTensor(arange(40), (4, 6))
    try:
        t[bad] = -1.0
    except IndexError:
        pass
    else:
        changed = (t.storage != arange(40)).nonzero().flatten().tolist()
        pytest.fail(
            f"t[{bad}] = v on shape (4, 6) must raise IndexError, as reading t[{bad}] does; "
            f"it raised nothing and changed storage positions {changed}"
        )
    changed = (t.storage != arange(40)).nonzero().flatten().tolist()
    assert not changed, (
        f"t[{bad}] = v raised IndexError but changed storage positions {changed}: a rejected "
        "write must change nothing"
    )


def test_writes_land_at_the_addressed_storage_position() -> None:
    t = sol.StridedTensor(arange(50), (2, 3), (3, 10), 4)
    t[1, -1] = -3.0
    storage = t.storage
    assert float(storage[4 + 3 + 20]) == -3.0, (
        "t[1, -1] = v must write storage[offset + 1*3 + 2*10]"
    )
    assert int((storage == -3.0).sum()) == 1, "a write changes exactly one storage element"


def test_the_constructor_keeps_the_storage_it_is_given_unchanged() -> None:
    t = sol.StridedTensor(arange(30), (2, 5), (10, 2), 3)
    assert torch.equal(t.storage, arange(30)), (
        "the storage must be kept as given (no copy, no reordering)"
    )


def test_size_one_dimensions_and_the_offset_do_not_affect_contiguity() -> None:
    t = sol.StridedTensor(arange(30), (2, 1, 3), (3, 99, 1), 5)
    assert t.is_contiguous(), (
        "shape (2, 1, 3), strides (3, 99, 1), offset 5 is contiguous: size-1 strides and the "
        "offset do not matter (torch agrees)"
    )
    assert sol.StridedTensor(arange(30), (1, 4), (1, 1)).is_contiguous()
    assert sol.StridedTensor(arange(30), (1,), (7,)).is_contiguous()


@pytest.mark.parametrize(
    ("shape", "strides", "why"),
    [
        ((4, 3), (1, 4), "transposed"),
        ((3, 2), (6, 1), "rows with gaps (a narrow)"),
        ((3, 4), (0, 1), "stride 0 (an expand)"),
        ((6,), (2,), "every other element"),
    ],
)
def test_gaps_and_reorderings_are_not_contiguous(
    shape: tuple[int, ...], strides: tuple[int, ...], why: str
) -> None:
    t = sol.StridedTensor(arange(30), shape, strides)
    assert not t.is_contiguous(), f"shape {shape}, strides {strides} ({why}) is not contiguous"


def test_contiguous_of_a_contiguous_tensor_does_not_copy() -> None:
    ours, theirs = make(arange(30), (2, 1, 3), (3, 99, 1), 5)
    check_view(ours.contiguous(), theirs.contiguous(), ours, "contiguous() of a contiguous tensor")


@pytest.mark.parametrize(
    ("shape", "strides", "offset"), [((2, 1, 3), (3, 99, 1), 5), ((4, 6), (6, 1), 0)]
)
def test_contiguous_of_a_contiguous_tensor_returns_the_same_object(
    shape: tuple[int, ...], strides: tuple[int, ...], offset: int
) -> None:
    # The tensor lives in the solution's process, so identity is tested by behaviour: an
    # attribute set on the result must be set on the tensor itself.
    t = sol.StridedTensor(arange(40), shape, strides, offset)
    c = t.contiguous()
    try:
        c.offset = offset + 1
    except Exception:  # a tensor that refuses writes (a frozen dataclass): nothing to see
        return
    got = t.offset
    assert got == offset + 1, (
        f"contiguous() of contiguous shape {shape}, strides {strides} must return self (the "
        f"same object): after setting the result's offset to {offset + 1}, the tensor's own "
        f"offset is still {got}, so contiguous() returned a new StridedTensor"
    )


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64], ids=str)
def test_contiguous_copy_keeps_the_storage_dtype_and_exact_values(dtype: torch.dtype) -> None:
    ours, theirs = make(precise(30, dtype), (4, 3), (1, 4), 2)
    check_exact_copy(
        ours.contiguous(),
        theirs.contiguous(),
        ours,
        f"contiguous() of shape (4, 3), strides (1, 4) over {dtype} storage",
    )


@pytest.mark.parametrize(
    ("shape", "strides", "offset"),
    [
        ((4, 3), (1, 4), 0),
        ((3, 2), (6, 1), 2),
        ((2, 3, 4), (0, 1, 0), 3),
        ((3, 1, 2), (1, 5, 9), 1),
    ],
)
def test_contiguous_copies_row_major_into_new_storage(
    shape: tuple[int, ...], strides: tuple[int, ...], offset: int
) -> None:
    ours, theirs = make(arange(30), shape, strides, offset)
    check_copy(ours.contiguous(), theirs.contiguous(), ours, f"contiguous() of {shape}/{strides}")
