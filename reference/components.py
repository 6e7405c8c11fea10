"""The parts of the engine a kata may swap: `Components`, with the reference
implementations as defaults, and the protocols the engine calls them through.

When and how the engine calls each part: docs/engine.md, "Swapping components".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from reference.attention import attention
from reference.kv_cache import KVCache, RollingKVCache
from reference.masks import sliding_window_mask
from reference.model import AttentionFn, MoeFn
from reference.moe import moe_forward
from reference.paged import BlockAllocator
from reference.sampling import sample
from reference.scheduler import Scheduler

__all__ = [
    "AllocatorLike",
    "CacheFactory",
    "CacheLike",
    "Components",
    "MaskFn",
    "SampleFn",
    "SchedulerLike",
]


class SampleFn(Protocol):
    """`reference.sampling.sample`: one token id per row of logits `[B, V]`."""

    def __call__(
        self,
        logits: Tensor,
        /,
        *,
        temperature: float | Tensor,
        top_k: int | Tensor,
        top_p: float | Tensor,
        min_p: float | Tensor,
        generator: torch.Generator | None,
    ) -> Tensor: ...


class MaskFn(Protocol):
    """`reference.masks.sliding_window_mask`: bool `[q_len, kv_len]`, True = may attend."""

    def __call__(
        self,
        q_len: int,
        kv_len: int,
        window: int | None,
        offset: int = 0,
        /,
        *,
        device: torch.device | str | None = None,
    ) -> Tensor: ...


class CacheLike(Protocol):
    """`reference.kv_cache.KVCache` / `RollingKVCache` as the engine uses them."""

    def update(
        self, layer: int, k_new: Tensor, v_new: Tensor, start_pos: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]: ...


class CacheFactory(Protocol):
    """A cache class: its constructor, as the engine calls it."""

    def __call__(
        self,
        n_layers: int,
        batch_size: int,
        capacity: int,  # max_seq_len (contiguous) or window (rolling)
        n_kv_heads: int,
        head_dim: int,
        /,
        *,
        dtype: torch.dtype,
        device: torch.device,
    ) -> CacheLike: ...


class AllocatorLike(Protocol):
    """`reference.paged.BlockAllocator`, the part of it the engine uses."""

    def allocate(self, seq_id: int, token_ids: Sequence[int]) -> list[int]: ...
    def append(self, seq_id: int, token_ids: Sequence[int]) -> list[tuple[int, int]]: ...
    def free(self, seq_id: int) -> None: ...
    def block_table(self, seq_id: int) -> list[int]: ...
    def num_free_blocks(self) -> int: ...


class PlannedStep(Protocol):
    """`reference.scheduler.ScheduledStep`: what one step computes."""

    @property
    def scheduled(self) -> Mapping[int, int]: ...  # request id -> tokens, in batch order
    @property
    def preempted(self) -> Sequence[int]: ...


class SchedulerLike(Protocol):
    """`reference.scheduler.Scheduler`, as the engine drives its paged cache with it."""

    @property
    def has_work(self) -> bool: ...
    def add_request(self, request_id: int, prompt_len: int, max_new_tokens: int) -> None: ...
    def schedule(self) -> PlannedStep: ...
    # `step` is what this scheduler's own `schedule` returned.
    def update(self, step: Any, stopped: Iterable[int] = ()) -> list[int]: ...


class SchedulerFactory(Protocol):
    def __call__(
        self, *, token_budget: int, num_blocks: int, block_size: int, max_running: int
    ) -> SchedulerLike: ...


@dataclass(frozen=True)
class Components:
    """The implementations the engine runs; the reference ones by default."""

    sample: SampleFn = sample
    sliding_window_mask: MaskFn = sliding_window_mask
    kv_cache: CacheFactory = KVCache
    rolling_kv_cache: CacheFactory = RollingKVCache
    moe_forward: MoeFn = moe_forward
    block_allocator: Callable[[int, int], AllocatorLike] = BlockAllocator
    attention: AttentionFn = attention
    scheduler: SchedulerFactory = Scheduler
