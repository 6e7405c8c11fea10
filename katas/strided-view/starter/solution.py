"""Strided views over a flat storage: see PROMPT.md for the full statement."""

from __future__ import annotations

from collections.abc import Sequence

import torch

Index = int | tuple[int, ...]


class StridedTensor:
    """A view of the 1-D `storage` through (shape, strides, offset); strides in elements."""

    storage: torch.Tensor
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int

    def __init__(
        self,
        storage: torch.Tensor,
        shape: Sequence[int],
        strides: Sequence[int] | None = None,
        offset: int = 0,
    ) -> None:
        """Keep `storage` itself (no copy); strides None means row-major."""
        raise NotImplementedError

    def numel(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: Index) -> float:
        """One element: one index per dimension, negative indices from the end."""
        raise NotImplementedError

    def __setitem__(self, index: Index, value: float) -> None:
        raise NotImplementedError

    def is_contiguous(self) -> bool:
        """Row-major with no gaps, ignoring size-1 dimensions and the offset."""
        raise NotImplementedError

    def contiguous(self) -> StridedTensor:
        """Self when contiguous, else a row-major copy in new storage."""
        raise NotImplementedError

    def view(self, shape: Sequence[int]) -> StridedTensor:
        """Same storage, new shape (one -1 allowed); ValueError when no strides fit."""
        raise NotImplementedError

    def reshape(self, shape: Sequence[int]) -> StridedTensor:
        """A view when view() would succeed, else contiguous().view(shape)."""
        raise NotImplementedError

    def permute(self, dims: Sequence[int]) -> StridedTensor:
        raise NotImplementedError

    def transpose(self, dim0: int, dim1: int) -> StridedTensor:
        raise NotImplementedError

    def narrow(self, dim: int, start: int, length: int) -> StridedTensor:
        raise NotImplementedError

    def expand(self, shape: Sequence[int]) -> StridedTensor:
        """Broadcast: size-1 and new leading dimensions get stride 0."""
        raise NotImplementedError
