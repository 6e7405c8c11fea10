"""reference.strided against torch itself: every operation is repeated on
`torch.as_strided(storage, shape, strides, offset)` over the same storage, and must give
the same shape, strides, offset and elements, and share storage exactly when torch's
result does (for reshape: a view exactly when torch views).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.strided import StridedTensor, contiguous_strides

STORAGE = 400  # enough for every tensor the strategies build


def as_torch(t: StridedTensor) -> torch.Tensor:
    return torch.as_strided(t.storage, t.shape, t.strides, t.offset)


def shares(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def assert_same(ours: StridedTensor, theirs: torch.Tensor, source: StridedTensor) -> None:
    assert ours.shape == tuple(theirs.shape)
    assert ours.strides == theirs.stride()
    assert ours.offset == theirs.storage_offset()
    assert torch.equal(as_torch(ours), theirs)
    assert (ours.storage is source.storage) == shares(theirs, source.storage)
    assert ours.is_contiguous() == theirs.is_contiguous()


def fresh(
    shape: Sequence[int], strides: Sequence[int] | None = None, offset: int = 0
) -> StridedTensor:
    return StridedTensor(torch.arange(STORAGE, dtype=torch.float32), shape, strides, offset)


def test_the_docstring_example() -> None:
    t = fresh((3, 4))
    tt = t.transpose(0, 1)
    assert (tt.shape, tt.strides, tt.offset, tt.is_contiguous()) == ((4, 3), (1, 4), 0, False)
    n = t.narrow(1, 1, 2)
    assert (n.shape, n.strides, n.offset) == ((3, 2), (4, 1), 1)
    assert [n[i, j] for i in range(3) for j in range(2)] == [1, 2, 5, 6, 9, 10]
    r = tt.reshape([12])
    assert r.storage is not t.storage and r.strides == (1,)
    assert [r[i] for i in range(12)] == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
    v = t.narrow(0, 1, 2).view([2, 2, 2])
    assert (v.shape, v.strides, v.offset, v.storage is t.storage) == ((2, 2, 2), (4, 2, 1), 4, True)
    e = t.expand([2, 3, 4])
    assert (e.shape, e.strides) == ((2, 3, 4), (0, 4, 1))


def test_contiguity_ignores_size_one_strides_and_the_offset() -> None:
    assert fresh((2, 1, 3), (3, 99, 1), 5).is_contiguous()
    assert torch.as_strided(torch.zeros(400), (2, 1, 3), (3, 99, 1), 5).is_contiguous()
    assert not fresh((2, 3), (1, 2)).is_contiguous()


def test_contiguous_returns_self_when_already_contiguous() -> None:
    t = fresh((2, 1, 3), (3, 99, 1), 5)
    assert t.contiguous() is t


def test_writes_through_a_view_show_in_the_source() -> None:
    t = fresh((4, 6))
    v = t.transpose(0, 1).narrow(0, 2, 3).reshape([3, 2, 2])
    v[1, 0, -1] = -5.0  # transposed (3, 1) of t
    assert t[1, 3] == -5.0


def test_reshape_copy_is_independent() -> None:
    t = fresh((4, 6))
    c = t.transpose(0, 1).reshape([24])
    c[0] = -1.0
    assert t[0, 0] == 0.0


def test_minus_one_is_inferred() -> None:
    t = fresh((4, 6))
    assert t.view([-1, 3]).shape == (8, 3)
    assert torch.zeros(4, 6).view(-1, 3).shape == (8, 3)
    for bad in ([-1, -1], [5, -1], [0, -1], [7]):
        with pytest.raises(ValueError):
            t.view(bad)


def test_view_fails_exactly_where_torch_fails() -> None:
    t = fresh((4, 6)).transpose(0, 1)
    with pytest.raises(ValueError):
        t.view([24])
    with pytest.raises(RuntimeError):
        as_torch(t).view(24)


def test_bad_arguments_raise() -> None:
    t = fresh((2, 3))
    with pytest.raises(IndexError):
        t.transpose(0, 2)
    with pytest.raises(IndexError):
        t[2, 0]
    with pytest.raises(IndexError):
        t[0]
    with pytest.raises(ValueError):
        t.permute([0, 0])
    with pytest.raises(ValueError):
        t.narrow(1, 2, 2)
    with pytest.raises(ValueError):
        t.expand([4, 3])
    with pytest.raises(ValueError):
        t.expand([-1, 2, 3])
    with pytest.raises(ValueError):
        fresh((2, 0))


def test_zero_d_tensors() -> None:
    t = fresh((), (), 7)
    assert t[()] == 7.0 and t.is_contiguous()
    v = t.view([1, 1])
    assert v.strides == torch.tensor(1.0).view(1, 1).stride()
    e = t.expand([2, 3])
    assert e.strides == (0, 0) and e[1, 2] == 7.0


# -- random chains of operations, each compared with torch --------------------------------


@st.composite
def tensors(draw: st.DrawFn) -> StridedTensor:
    """A permuted, narrowed, offset view of arange storage, sometimes with size-1 dims."""
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    offset = draw(st.integers(0, 20))
    t = fresh(shape, contiguous_strides(shape), offset)
    if shape:
        t = t.permute(draw(st.permutations(range(len(shape)))))
        d = draw(st.integers(0, len(shape) - 1))
        n = t.shape[d]
        start = draw(st.integers(0, n - 1))
        t = t.narrow(d, start, draw(st.integers(1, n - start)))
    return t


def factorisations(numel: int) -> st.SearchStrategy[list[int]]:
    """Shapes (with size-1 dims sprinkled in) whose sizes multiply to numel."""

    @st.composite
    def build(draw: st.DrawFn) -> list[int]:
        left, out = numel, []
        while left > 1:
            f = draw(st.sampled_from([k for k in range(2, left + 1) if left % k == 0]))
            out.append(f)
            left //= f
        for _ in range(draw(st.integers(0, 2))):
            out.insert(draw(st.integers(0, len(out))), 1)
        return out

    return build()


@settings(max_examples=200)
@given(st.data())
def test_view_and_reshape_match_torch(data: st.DataObject) -> None:
    t = data.draw(tensors())
    new_shape: list[int] = data.draw(factorisations(t.numel()))
    minus_one: bool = data.draw(st.booleans())
    if new_shape and minus_one:
        new_shape[data.draw(st.integers(0, len(new_shape) - 1))] = -1
    theirs = as_torch(t)
    reshaped = theirs.reshape(new_shape)
    assert_same(t.reshape(new_shape), reshaped, t)
    try:
        viewed: torch.Tensor | None = theirs.view(new_shape)
    except RuntimeError:
        viewed = None
    if viewed is None:
        assert not shares(reshaped, t.storage)
        with pytest.raises(ValueError):
            t.view(new_shape)
    else:
        assert shares(reshaped, t.storage)
        assert_same(t.view(new_shape), viewed, t)


@settings(max_examples=150)
@given(st.data())
def test_permute_transpose_narrow_expand_contiguous_match_torch(data: st.DataObject) -> None:
    t = data.draw(tensors())
    theirs = as_torch(t)
    ndim = len(t.shape)
    assert_same(t.contiguous(), theirs.contiguous(), t)
    if ndim:
        order = [
            d - ndim if data.draw(st.booleans()) else d
            for d in data.draw(st.permutations(range(ndim)))
        ]
        assert_same(t.permute(order), theirs.permute(order), t)
        a, b = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
        assert_same(t.transpose(a, b), theirs.transpose(a, b), t)
        d = data.draw(st.integers(-ndim, ndim - 1))
        n = t.shape[d]
        start = data.draw(st.integers(-n, n - 1))
        length = data.draw(st.integers(1, n - (start % n)))
        assert_same(t.narrow(d, start, length), theirs.narrow(d, start, length), t)
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    target = lead + [
        data.draw(st.integers(1, 3)) if n == 1 else data.draw(st.sampled_from([n, -1]))
        for n in t.shape
    ]
    expanded = t.expand(target)
    assert_same(expanded, theirs.expand(target), t)
    # Chains through an expanded tensor: reshape views exactly when torch does.
    flat = [math.prod(expanded.shape)]
    assert_same(expanded.reshape(flat), as_torch(expanded).reshape(flat), expanded)


@settings(max_examples=100)
@given(tensors(), st.data())
def test_element_lookup_matches_torch_indexing(t: StridedTensor, data: st.DataObject) -> None:
    index = tuple(data.draw(st.integers(-n, n - 1)) for n in t.shape)
    assert t[index] == float(as_torch(t)[index])
