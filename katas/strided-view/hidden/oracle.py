"""What the suite checks against: torch itself, on the same storage.

Every tensor the suite builds is also built in torch as
`torch.as_strided(storage, shape, strides, offset)`, the operation is repeated there,
and the candidate's result must have torch's shape, strides (size-1 dimensions aside:
their stride addresses nothing, PROMPT.md), offset and elements. The solution runs in
another process: its `storage` read here is a copy, so whether a result shares its
source's storage is tested by behaviour: write through the result in the solution's
process, then read the source's storage.

Storage holds 0, 1, 2, ...: an element's value is its storage position, and the
negative marker written through a result cannot be confused with any element.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import solution as sol
import torch

MARK = -7.0


def arange(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float32)


def precise(n: int, dtype: torch.dtype) -> torch.Tensor:
    """n storage values of `dtype` that float32 cannot hold: odd int64 values above 2**30
    (float32 steps by 128 there) or float64 thirds. A copy that changes the storage's
    dtype changes them."""
    if dtype == torch.int64:
        return 2**30 + 2 * torch.arange(n, dtype=torch.int64) + 1
    return torch.arange(n, dtype=torch.float64) / 3


def make(
    storage: torch.Tensor,
    shape: Sequence[int],
    strides: Sequence[int] | None = None,
    offset: int = 0,
) -> tuple[Any, torch.Tensor]:
    """The candidate's tensor and torch's twin over (a copy of) the same storage."""
    if strides is None:
        ours = sol.StridedTensor(storage.clone(), tuple(shape))
        strides = [1] * len(shape)
        for d in range(len(shape) - 2, -1, -1):
            strides[d] = strides[d + 1] * shape[d + 1]
    else:
        ours = sol.StridedTensor(storage.clone(), tuple(shape), tuple(strides), offset)
    return ours, torch.as_strided(storage.clone(), tuple(shape), tuple(strides), offset)


def layout(t: Any) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    return tuple(t.shape), tuple(t.strides), int(t.offset)


def wide_strides(shape: Sequence[int], strides: Sequence[int]) -> list[tuple[int, int]]:
    """(dimension, stride) of the dimensions whose stride matters: size above 1."""
    return [(d, s) for d, (n, s) in enumerate(zip(shape, strides, strict=True)) if n != 1]


def values(t: Any, what: str) -> torch.Tensor:
    """The elements a candidate's tensor addresses, read from its own storage."""
    shape, strides, offset = layout(t)
    storage = t.storage
    try:
        return torch.as_strided(storage, shape, strides, offset)
    except RuntimeError as e:
        raise AssertionError(
            f"{what}: shape {shape}, strides {strides}, offset {offset} address elements "
            f"outside its storage of {storage.numel()} ({e})"
        ) from None


def check_layout(ours: Any, theirs: torch.Tensor, what: str) -> None:
    """Shape, strides (size-1 dims aside), offset and elements equal torch's."""
    shape, strides, offset = layout(ours)
    want_shape, want_strides = tuple(theirs.shape), tuple(theirs.stride())
    assert shape == want_shape, f"{what}: expected shape {want_shape}, got {shape}"
    assert len(strides) == len(shape), f"{what}: {len(shape)} sizes but strides {strides}"
    assert wide_strides(shape, strides) == wide_strides(want_shape, want_strides), (
        f"{what}: expected strides {want_strides} (size-1 dimensions aside), got {strides}"
    )
    assert offset == theirs.storage_offset(), (
        f"{what}: expected offset {theirs.storage_offset()}, got {offset}"
    )
    got = values(ours, what)
    assert torch.equal(got, theirs), (
        f"{what}: expected elements {theirs.flatten().tolist()[:24]}, "
        f"got {got.flatten().tolist()[:24]}"
    )


def shares(result: Any, source: Any) -> bool:
    """Whether a write through `result` (at its first element) shows in `source`'s storage.
    Leaves the marker there: call it last on a pair."""
    before = source.storage
    result[tuple(0 for _ in layout(result)[0])] = MARK
    after = source.storage
    return not torch.equal(before, after)


def check_view(ours: Any, theirs: torch.Tensor, source: Any, what: str) -> None:
    """`ours` matches torch's view and writes through it land in the source's storage,
    at the position torch's view addresses."""
    check_layout(ours, theirs, what)
    before = source.storage
    ours[tuple(0 for _ in theirs.shape)] = MARK
    after = source.storage
    expect = before.clone()
    expect[theirs.storage_offset()] = MARK
    assert not torch.equal(before, after), (
        f"{what} must be a view sharing its source's storage: a write through it left the "
        "source unchanged (a copy)"
    )
    assert torch.equal(after, expect), (
        f"{what}: a write through its first element must land at storage position "
        f"{theirs.storage_offset()}; it changed the source's storage elsewhere"
    )


def check_copy(ours: Any, theirs: torch.Tensor, source: Any, what: str) -> None:
    """`ours` holds torch's elements, row-major in new storage of exactly numel elements,
    and writing through it leaves the source alone."""
    check_layout(ours, theirs, what)
    numel = theirs.numel()
    size = int(ours.storage.numel())
    assert size == numel, f"{what}: a copy's storage holds numel() = {numel} elements, got {size}"
    assert not shares(ours, source), (
        f"{what} must be a copy (torch copies here): a write through it changed the source"
    )


def check_exact_copy(ours: Any, theirs: torch.Tensor, source: Any, what: str) -> None:
    """check_copy, and the copy's storage keeps the source storage's dtype (elements compare
    exactly only then: torch.equal promotes dtypes)."""
    want, got = theirs.dtype, ours.storage.dtype
    assert got == want, (
        f"{what}: a copy's storage keeps the source storage's dtype {want}, got {got} "
        "(allocate with dtype=storage.dtype and copy the elements, not their float values)"
    )
    check_copy(ours, theirs, source, what)
