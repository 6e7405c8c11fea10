"""Strided views: a flat storage plus (shape, strides, offset), the way torch addresses tensors.

Element `(i0, ..., in-1)` of a tensor lives at `storage[offset + sum(i_d * strides[d])]`;
strides count elements, not bytes. A *view* is another (shape, strides, offset) over
the same storage, so writes through one show through the other; a *copy* has storage
of its own. Every function here follows torch's rules, so that `shape`, `strides` and
`offset` equal what `torch.as_strided(storage, shape, strides, offset).OP(...)` gives,
and `reshape` returns a view exactly when torch's does:

- contiguity ignores size-1 dimensions (their stride never addresses anything) and
  the offset: shape (2, 1, 3) with strides (3, 99, 1) is contiguous;
- `view` uses torch's `_compute_stride` rule (`_view_strides` below) and fails when it
  finds no strides; `reshape` views when that rule succeeds and copies otherwise;
- `expand` gives expanded and new dimensions stride 0.

Sizes are at least 1 throughout (a 0 would make every rule above a special case).

Worked example: storage 0..11, shape (3, 4), strides (4, 1), offset 0.

    t.transpose(0, 1)             shape (4, 3)  strides (1, 4)  offset 0   view, not contiguous
    t.narrow(1, 1, 2)             shape (3, 2)  strides (4, 1)  offset 1   elements 1 2 / 5 6 / 9 10
    t.transpose(0, 1).reshape(12) a copy: 0 4 8 1 5 9 2 6 10 3 7 11, strides (1,)
    t.narrow(0, 1, 2).view(2, 2, 2)  shape (2, 2, 2)  strides (4, 2, 1)  offset 4   a view
    t.expand(2, 3, 4)             shape (2, 3, 4)  strides (0, 4, 1)  offset 0   a view
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

Index = int | tuple[int, ...]


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major strides: the last dimension moves by 1, each earlier one by the product
    of the sizes after it."""
    strides: list[int] = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _wrap_dim(dim: int, ndim: int) -> int:
    """A dimension in [-ndim, ndim) as a non-negative one (IndexError outside, as torch)."""
    if not -ndim <= dim < ndim:
        raise IndexError(f"dimension {dim} out of range for a {ndim}-d tensor")
    return dim + ndim if dim < 0 else dim


def _check_sizes(shape: Sequence[int]) -> tuple[int, ...]:
    if any(s < 1 for s in shape):
        raise ValueError(f"every size must be at least 1, got {tuple(shape)}")
    return tuple(shape)


def infer_shape(shape: Sequence[int], numel: int) -> tuple[int, ...]:
    """`shape` with its (at most one) -1 replaced so that the sizes multiply to `numel`."""
    if sum(1 for s in shape if s == -1) > 1:
        raise ValueError(f"only one dimension can be -1, got {tuple(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if any(s < 1 and s != -1 for s in shape):
        raise ValueError(f"every size must be at least 1 (or one -1), got {tuple(shape)}")
    if -1 in shape:
        if numel % known:
            raise ValueError(f"shape {tuple(shape)} is invalid for {numel} elements")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise ValueError(f"shape {tuple(shape)} is invalid for {numel} elements")
    return tuple(shape)


def _view_strides(
    shape: Sequence[int], strides: Sequence[int], new_shape: Sequence[int]
) -> tuple[int, ...] | None:
    """Strides that address the same elements in the same order under `new_shape`, or
    None when none exist: torch's `_compute_stride`.

    Walk the old dimensions from the last, cutting them into *chunks*: runs of
    dimensions that step through memory as one (each stride equals the next one's
    stride times its size; size-1 dimensions never cut a chunk). Elements within a chunk
    are equally spaced, so the new dimensions covering exactly that chunk can be laid
    over it with row-major strides scaled by the chunk's innermost stride. A new
    dimension that would straddle two chunks has no single stride: no view.
    """
    if not shape:  # a 0-d tensor holds one element; any all-ones shape views it
        return tuple(1 for _ in new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = strides[-1]  # the innermost stride of the current chunk
    chunk_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        chunk_numel *= shape[d]
        chunk_ends = d == 0 or (shape[d - 1] != 1 and strides[d - 1] != chunk_numel * base)
        if not chunk_ends:
            continue
        # Lay new dimensions over the chunk until they cover it (trailing size-1
        # dimensions of the new shape go with it).
        while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
            new_strides[view_d] = view_numel * base
            view_numel *= new_shape[view_d]
            view_d -= 1
        if view_numel != chunk_numel:
            return None  # a new dimension straddles this chunk and the next
        if d > 0:
            base = strides[d - 1]
            chunk_numel = view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


class StridedTensor:
    """A view of a 1-D `storage` tensor through (shape, strides, offset).

    Operations return new StridedTensors: views share `storage` (the same tensor
    object), copies get a new one. The storage is only ever indexed with integers
    (or an index tensor, to gather a copy); no torch view function is used.
    """

    def __init__(
        self,
        storage: torch.Tensor,
        shape: Sequence[int],
        strides: Sequence[int] | None = None,
        offset: int = 0,
    ) -> None:
        if storage.dim() != 1:
            raise ValueError(f"storage must be 1-D, got {storage.dim()} dimensions")
        self.storage = storage
        self.shape = _check_sizes(shape)
        self.strides = contiguous_strides(shape) if strides is None else tuple(strides)
        self.offset = offset
        if len(self.strides) != len(self.shape):
            raise ValueError(f"{len(self.shape)} sizes but {len(self.strides)} strides")
        if offset < 0 or any(s < 0 for s in self.strides):
            raise ValueError("offset and strides must be non-negative")
        last = offset + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True))
        if last >= storage.numel():
            raise ValueError(f"element at {last} is past the end of a storage of {storage.numel()}")

    def _new(self, shape: Sequence[int], strides: Sequence[int], offset: int) -> StridedTensor:
        """A view: the same storage object under another (shape, strides, offset)."""
        return StridedTensor(self.storage, shape, strides, offset)

    def numel(self) -> int:
        return math.prod(self.shape)

    def _position(self, index: Index) -> int:
        """The storage position of one element; negative indices count from the end."""
        idx = (index,) if isinstance(index, int) else tuple(index)
        if len(idx) != len(self.shape):
            raise IndexError(f"{len(idx)} indices for a {len(self.shape)}-d tensor")
        pos = self.offset
        for i, n, s in zip(idx, self.shape, self.strides, strict=True):
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for size {n}")
            pos += (i + n if i < 0 else i) * s
        return pos

    def __getitem__(self, index: Index) -> float:
        return float(self.storage[self._position(index)].item())

    def __setitem__(self, index: Index, value: float) -> None:
        self.storage[self._position(index)] = value

    def is_contiguous(self) -> bool:
        """Row-major with no gaps: size-1 dimensions and the offset do not matter."""
        expected = 1
        for n, s in zip(reversed(self.shape), reversed(self.strides), strict=True):
            if n != 1:
                if s != expected:
                    return False
                expected *= n
        return True

    def contiguous(self) -> StridedTensor:
        """Self when already contiguous; else a row-major copy into new storage."""
        if self.is_contiguous():
            return self
        # Every element's storage position in row-major order, built one dimension at
        # a time as an outer sum (arithmetic on an index tensor), then one gather.
        positions = torch.tensor([self.offset], dtype=torch.long)
        for n, s in zip(self.shape, self.strides, strict=True):
            along = torch.arange(n, dtype=torch.long) * s
            positions = (positions[:, None] + along[None, :]).flatten()
        return StridedTensor(self.storage[positions], self.shape)

    def view(self, shape: Sequence[int]) -> StridedTensor:
        """The same elements in row-major order under `shape`, sharing storage; ValueError
        when the strides do not allow it (see `_view_strides`)."""
        new_shape = infer_shape(shape, self.numel())
        strides = _view_strides(self.shape, self.strides, new_shape)
        if strides is None:
            raise ValueError(
                f"a view of shape {new_shape} is impossible for strides {self.strides}; use reshape"
            )
        return self._new(new_shape, strides, self.offset)

    def reshape(self, shape: Sequence[int]) -> StridedTensor:
        """A view when `view` would succeed, else a contiguous copy viewed as `shape`."""
        new_shape = infer_shape(shape, self.numel())
        strides = _view_strides(self.shape, self.strides, new_shape)
        if strides is not None:
            return self._new(new_shape, strides, self.offset)
        return self.contiguous().view(new_shape)

    def permute(self, dims: Sequence[int]) -> StridedTensor:
        ndim = len(self.shape)
        order = [_wrap_dim(d, ndim) for d in dims]
        if sorted(order) != list(range(ndim)):
            raise ValueError(f"{tuple(dims)} is not a permutation of {ndim} dimensions")
        return self._new(
            [self.shape[d] for d in order], [self.strides[d] for d in order], self.offset
        )

    def transpose(self, dim0: int, dim1: int) -> StridedTensor:
        ndim = len(self.shape)
        order = list(range(ndim))
        a, b = _wrap_dim(dim0, ndim), _wrap_dim(dim1, ndim)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    def narrow(self, dim: int, start: int, length: int) -> StridedTensor:
        """Indices start .. start + length - 1 of `dim`: only the offset and one size move."""
        d = _wrap_dim(dim, len(self.shape))
        n = self.shape[d]
        if not -n <= start < n:
            raise ValueError(f"start {start} out of range for size {n}")
        start = start + n if start < 0 else start
        if length < 1 or start + length > n:
            raise ValueError(f"length {length} from {start} does not fit in size {n}")
        shape = list(self.shape)
        shape[d] = length
        return self._new(shape, self.strides, self.offset + start * self.strides[d])

    def expand(self, shape: Sequence[int]) -> StridedTensor:
        """Broadcast to `shape` (aligned on the right): size-1 dimensions and new leading
        ones repeat their one element with stride 0; -1 keeps an existing size."""
        new_ndim, ndim = len(shape), len(self.shape)
        if new_ndim < ndim:
            raise ValueError(f"cannot expand {self.shape} to fewer dimensions {tuple(shape)}")
        sizes = [0] * new_ndim
        strides = [0] * new_ndim
        for i in range(new_ndim - 1, -1, -1):
            d = i - (new_ndim - ndim)  # the matching old dimension, < 0 for a new one
            size = self.shape[d] if d >= 0 else 1
            if d >= 0:
                stride = self.strides[d]
            else:  # torch's stride for a new dimension; it only shows when it stays size 1
                stride = sizes[i + 1] * strides[i + 1] if i + 1 < new_ndim else 0
            target = shape[i]
            if target == -1:
                if d < 0:
                    raise ValueError("-1 is not allowed for a new leading dimension")
                target = size
            if target < 1:
                raise ValueError(f"every size must be at least 1, got {tuple(shape)}")
            if target != size:
                if size != 1:
                    raise ValueError(f"cannot expand size {size} to {target} in {tuple(shape)}")
                stride = 0
            sizes[i], strides[i] = target, stride
        return self._new(sizes, strides, self.offset)

    def __repr__(self) -> str:
        return f"StridedTensor(shape={self.shape}, strides={self.strides}, offset={self.offset})"
