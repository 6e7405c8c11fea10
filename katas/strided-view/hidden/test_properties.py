"""Random layouts and random operations, each compared with torch on the same storage."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import arange, check_copy, check_layout, check_view, make
from strategies import STORAGE, layouts, shapes_of

Layout = tuple[tuple[int, ...], tuple[int, ...], int]


@settings(max_examples=40)
@given(layouts(), st.data())
def test_reshape_views_exactly_when_torch_views(layout: Layout, data: st.DataObject) -> None:
    ours, theirs = make(arange(STORAGE), *layout)
    shape = data.draw(shapes_of(math.prod(layout[0])))
    want = theirs.reshape(shape)
    what = f"shape {layout[0]}, strides {layout[1]}, offset {layout[2]} .reshape({shape})"
    if want.untyped_storage().data_ptr() == theirs.untyped_storage().data_ptr():
        check_view(ours.reshape(shape), want, ours, what + " (torch views)")
    else:
        check_copy(ours.reshape(shape), want, ours, what + " (torch copies)")


@settings(max_examples=40)
@given(layouts(), st.data())
def test_view_succeeds_exactly_when_torch_view_does(layout: Layout, data: st.DataObject) -> None:
    ours, theirs = make(arange(STORAGE), *layout)
    shape = data.draw(shapes_of(math.prod(layout[0])))
    what = f"shape {layout[0]}, strides {layout[1]}, offset {layout[2]} .view({shape})"
    try:
        want = theirs.view(shape)
    except RuntimeError:
        with pytest.raises(ValueError):
            ours.view(shape)
        return
    check_view(ours.view(shape), want, ours, what)


@settings(max_examples=40)
@given(layouts(), st.data())
def test_layout_operations_match_torch(layout: Layout, data: st.DataObject) -> None:
    ours, theirs = make(arange(STORAGE), *layout)
    what = f"shape {layout[0]}, strides {layout[1]}, offset {layout[2]}"
    assert ours.is_contiguous() == theirs.is_contiguous(), (
        f"{what}: is_contiguous() must be {theirs.is_contiguous()}"
    )
    ndim = len(layout[0])
    if ndim:
        order = data.draw(st.permutations(range(ndim)))
        check_layout(ours.permute(order), theirs.permute(order), f"{what} .permute({order})")
        a, b = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
        check_layout(ours.transpose(a, b), theirs.transpose(a, b), f"{what} .transpose({a}, {b})")
        d = data.draw(st.integers(-ndim, ndim - 1))
        n = layout[0][d]
        start = data.draw(st.integers(-n, n - 1))
        length = data.draw(st.integers(1, n - start % n))
        check_layout(
            ours.narrow(d, start, length),
            theirs.narrow(d, start, length),
            f"{what} .narrow({d}, {start}, {length})",
        )
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    target = lead + [data.draw(st.integers(1, 3)) if n == 1 else n for n in layout[0]]
    check_layout(ours.expand(target), theirs.expand(target), f"{what} .expand({target})")
    check_layout(ours.contiguous(), theirs.contiguous(), f"{what} .contiguous()")


@settings(max_examples=30)
@given(layouts(), st.data())
def test_lookup_matches_torch_indexing(layout: Layout, data: st.DataObject) -> None:
    ours, theirs = make(arange(STORAGE), *layout)
    for _ in range(3):
        index = tuple(data.draw(st.integers(-n, n - 1)) for n in layout[0])
        want = float(theirs[index]) if index else float(theirs.item())
        got = ours[index]
        assert got == want, (
            f"shape {layout[0]}, strides {layout[1]}, offset {layout[2]}: t[{index}] is {want}, got {got}"
        )
    assert isinstance(ours[tuple(0 for _ in layout[0])], float), (
        "__getitem__ returns a Python float"
    )
