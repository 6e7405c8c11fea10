"""Strided views over a flat storage: see PROMPT.md for the full statement."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

Index = int | tuple[int, ...]


def row_major(shape: Sequence[int]) -> tuple[int, ...]:
    """Contiguous strides: the last dimension moves by 1, each earlier one by the
    product of the sizes after it."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return tuple(strides)


def wrap(dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(f"dimension {dim} out of range for {ndim} dimensions")
    return dim % ndim


def infer(shape: Sequence[int], numel: int) -> tuple[int, ...]:
    """Replace the one allowed -1 so that the sizes multiply to numel."""
    if shape.count(-1) > 1 or any(s < 1 and s != -1 for s in shape):
        raise ValueError(f"bad shape {tuple(shape)}")
    known = math.prod(s for s in shape if s != -1)
    out = tuple(numel // known if s == -1 else s for s in shape)
    if math.prod(out) != numel:
        raise ValueError(f"shape {tuple(shape)} is invalid for {numel} elements")
    return out


def view_strides(
    shape: Sequence[int], strides: Sequence[int], new: Sequence[int]
) -> tuple[int, ...] | None:
    """torch's rule: cut the old dims into chunks that step through memory as one axis
    (size-1 dims never cut), cover each chunk exactly with consecutive new dims."""
    if not shape:
        return tuple(1 for _ in new)
    out = [0] * len(new)
    v = len(new) - 1
    base = strides[-1]
    chunk = covered = 1
    for d in range(len(shape) - 1, -1, -1):
        chunk *= shape[d]
        if d > 0 and (shape[d - 1] == 1 or strides[d - 1] == chunk * base):
            continue  # dimension d - 1 continues this chunk
        while v >= 0 and (covered < chunk or new[v] == 1):
            out[v] = covered * base
            covered *= new[v]
            v -= 1
        if covered != chunk:
            return None
        if d > 0:
            base, chunk, covered = strides[d - 1], 1, 1
    return tuple(out) if v == -1 else None


class StridedTensor:
    def __init__(
        self,
        storage: torch.Tensor,
        shape: Sequence[int],
        strides: Sequence[int] | None = None,
        offset: int = 0,
    ) -> None:
        self.storage = storage
        self.shape = tuple(shape)
        self.strides = row_major(shape) if strides is None else tuple(strides)
        self.offset = offset

    def numel(self) -> int:
        return math.prod(self.shape)

    def _pos(self, index: Index) -> int:
        idx = (index,) if isinstance(index, int) else index
        if len(idx) != len(self.shape):
            raise IndexError(f"{len(idx)} indices for {len(self.shape)} dimensions")
        pos = self.offset
        for i, n, s in zip(idx, self.shape, self.strides, strict=True):
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for size {n}")
            pos += (i % n) * s
        return pos

    def __getitem__(self, index: Index) -> float:
        return float(self.storage[self._pos(index)])

    def __setitem__(self, index: Index, value: float) -> None:
        self.storage[self._pos(index)] = value

    def is_contiguous(self) -> bool:
        expected = 1
        for n, s in zip(reversed(self.shape), reversed(self.strides), strict=True):
            if n != 1:
                if s != expected:
                    return False
                expected *= n
        return True

    def contiguous(self) -> StridedTensor:
        if self.is_contiguous():
            return self
        # Storage positions of all elements in row-major order, one dimension at a time.
        positions = torch.tensor([self.offset])
        for n, s in zip(self.shape, self.strides, strict=True):
            positions = (positions[:, None] + torch.arange(n) * s).flatten()
        return StridedTensor(self.storage[positions], self.shape)

    def view(self, shape: Sequence[int]) -> StridedTensor:
        new = infer(shape, self.numel())
        strides = view_strides(self.shape, self.strides, new)
        if strides is None:
            raise ValueError(f"no view of shape {new} for strides {self.strides}")
        return StridedTensor(self.storage, new, strides, self.offset)

    def reshape(self, shape: Sequence[int]) -> StridedTensor:
        new = infer(shape, self.numel())
        strides = view_strides(self.shape, self.strides, new)
        if strides is not None:
            return StridedTensor(self.storage, new, strides, self.offset)
        return self.contiguous().view(new)

    def permute(self, dims: Sequence[int]) -> StridedTensor:
        order = [wrap(d, len(self.shape)) for d in dims]
        if sorted(order) != list(range(len(self.shape))):
            raise ValueError(f"{tuple(dims)} is not a permutation")
        shape = [self.shape[d] for d in order]
        return StridedTensor(self.storage, shape, [self.strides[d] for d in order], self.offset)

    def transpose(self, dim0: int, dim1: int) -> StridedTensor:
        order = list(range(len(self.shape)))
        a, b = wrap(dim0, len(order)), wrap(dim1, len(order))
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    def narrow(self, dim: int, start: int, length: int) -> StridedTensor:
        d = wrap(dim, len(self.shape))
        n = self.shape[d]
        if not -n <= start < n:
            raise ValueError(f"start {start} out of range for size {n}")
        start %= n
        if length < 1 or start + length > n:
            raise ValueError(f"length {length} from {start} overruns size {n}")
        shape = list(self.shape)
        shape[d] = length
        return StridedTensor(
            self.storage, shape, self.strides, self.offset + start * self.strides[d]
        )

    def expand(self, shape: Sequence[int]) -> StridedTensor:
        lead = len(shape) - len(self.shape)
        if lead < 0:
            raise ValueError(f"cannot expand {self.shape} to {tuple(shape)}")
        sizes, strides = [], []
        for i, target in enumerate(shape):
            if i < lead:  # a new leading dimension: every index reads the same elements
                if target < 1:
                    raise ValueError(f"bad size {target} for a new dimension")
                sizes.append(target)
                strides.append(0)
                continue
            n, s = self.shape[i - lead], self.strides[i - lead]
            if target == -1 or target == n:
                sizes.append(n)
                strides.append(s)
            elif n == 1 and target >= 1:
                sizes.append(target)
                strides.append(0)
            else:
                raise ValueError(f"cannot expand size {n} to {target}")
        return StridedTensor(self.storage, sizes, strides, self.offset)
