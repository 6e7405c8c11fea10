"""KV layouts: where each lane's keys and values live, and the view a forward step
reads them through (`reference.model.KVView`).

`make_store` builds one of three: `ContiguousStore` (a `KVCache` row per lane),
`RollingStore` (a `RollingKVCache` window per lane) or `PagedStore` (blocks of a
`PagedKVCache` handed out by a `BlockAllocator`). Design: docs/engine.md.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from reference.components import CacheLike, Components
from reference.kv_cache import KVCache, RollingKVCache
from reference.model import Transformer
from reference.paged import PagedKVCache, block_tables_tensor, slot_mapping

__all__ = [
    "CacheKind",
    "ContiguousStore",
    "KVStore",
    "PagedStore",
    "PagedView",
    "RollingStore",
    "SlotView",
    "StaticDecodeView",
    "make_store",
]

CacheKind = Literal["auto", "contiguous", "rolling", "paged"]


# -- one view per step -------------------------------------------------------------


@dataclass
class SlotView:
    """A step over a contiguous or rolling cache (`KVView` for the model)."""

    cache: CacheLike
    start: Tensor  # int64 [B] on the CPU: what each lane already has
    positions: Tensor  # int64 [B, T]
    end: int
    mask: Tensor | None
    own_keys: bool  # a first chunk attends its own keys, not what the cache returns
    slot_order: bool = False  # the reference rolling buffer may skip its time-order gather

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        if self.slot_order and isinstance(self.cache, RollingKVCache):
            k_all, v_all, _ = self.cache.update(layer, k, v, self.start, ordered=False)
        else:
            k_all, v_all, _ = self.cache.update(layer, k, v, self.start)
        return (k, v, self.mask) if self.own_keys else (k_all, v_all, self.mask)


@dataclass
class PagedView:
    """A step over the paged cache: write the real tokens' slots, attend every lane's blocks.

    Lanes may feed different numbers of tokens (right-padded to T). Padding is never
    written, and real queries attend only the cache, so padding cannot leak into them.
    """

    cache: PagedKVCache
    slots: Tensor  # int64 [n_real] flat pool slot of each real new token
    real: Tensor | None  # int64 [n_real] rows of the flattened [B * T] chunk that are real
    tables: Tensor  # int64 [B, max_blocks]
    lengths: Tensor  # int64 [B] tokens per lane after this step
    positions: Tensor
    end: int
    mask: Tensor | None

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        k_new, v_new = k.flatten(0, 1), v.flatten(0, 1)  # [B * T, n_kv, hd]
        if self.real is not None:
            k_new, v_new = k_new[self.real], v_new[self.real]
        self.cache.write(layer, self.slots, k_new, v_new)
        k_all, v_all, _ = self.cache.gather(layer, self.tables, self.lengths)
        return k_all, v_all, self.mask


@dataclass
class StaticDecodeView:
    """A decode step over a reference cache's buffers, in the form `torch.compile` wants.

    Every lane feeds one token. Each layer writes it at the lane's position (the
    contiguous cache) or at slot `position % W` (the rolling buffer), and the query
    attends the whole row, with a mask: positions up to its own and inside the window
    (contiguous), or the slots the lane has filled (rolling; every slot after the
    wrap). The keys are those of the eager step; what changes from step to step is
    only tensor values, not shapes or Python values (`end` is the size of the model's
    RoPE table), so the step compiles once and then runs as one graph.
    """

    k: Tensor  # [n_layers, B, S, n_kv, hd]: the cache's own buffers (S slots or positions)
    v: Tensor
    positions: Tensor  # int64 [B, 1]
    end: int
    window: int | None
    rolling: bool

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        k_all, v_all = self.k[layer], self.v[layer]  # [B, S, n_kv, hd]
        b, s = k_all.shape[:2]
        lanes = torch.arange(b, device=k_all.device)[:, None]  # [B, 1]
        slots = self.positions % s if self.rolling else self.positions  # [B, 1]
        k_all[lanes, slots] = k
        v_all[lanes, slots] = v
        key = torch.arange(s, device=k_all.device)
        visible = key <= self.positions  # [B, S]; rolling: slot s is filled from position s on
        if self.window is not None and not self.rolling:
            visible &= key > self.positions - self.window
        return k_all, v_all, visible[:, None, None, :]


# -- stores: room for each request, and its view for the step ------------------------


def _positions(start: Tensor, t: int, device: torch.device) -> Tensor:
    """int64 [B, T]: lane b's new tokens sit at start[b] .. start[b] + T - 1."""
    pos = start[:, None] if t == 1 else start[:, None] + torch.arange(t)
    return pos.to(device, non_blocking=True)


class KVStore(ABC):
    """What the engine needs from a KV layout: room for requests, and a view per step."""

    ragged = False  # True: lanes may feed different numbers of tokens in one step

    def __init__(
        self,
        model: Transformer,
        components: Components,
        max_seq_len: int | None,
        static: bool = False,
    ) -> None:
        self.max_seq_len = max_seq_len  # None: no limit (a rolling buffer)
        self.model = model
        self.device = model.device
        self.window = model.args.sliding_window
        self.mask_fn = components.sliding_window_mask
        self.static = static  # decode steps get a `StaticDecodeView` (Engine's `compile`)

    def static_view(self, cache: KVCache | RollingKVCache, start: list[int]) -> StaticDecodeView:
        """A one-token step at positions `start`, for the compiled graph."""
        # One small tensor op rather than three: after a step has streamed the weights,
        # each small op runs slower than it does alone.
        positions = torch.tensor([[s] for s in start], device=self.device)  # [B, 1]
        rope_rows = self.model.rope_table(max(start) + 1)[0].shape[0]  # grows by doubling
        rolling = isinstance(cache, RollingKVCache)
        return StaticDecodeView(cache.k, cache.v, positions, rope_rows, self.window, rolling)

    def check(self, n_prompt: int, max_new_tokens: int) -> None:
        """Raise ValueError if a request of this size can never fit."""
        longest = n_prompt + max_new_tokens - 1  # the last token is never fed back
        if self.max_seq_len is not None and longest > self.max_seq_len:
            raise ValueError(
                f"a prompt of {n_prompt} tokens + {max_new_tokens} new tokens does not fit "
                f"max_seq_len={self.max_seq_len}"
            )

    def admit(self, seq_id: int, prompt: list[int], max_new_tokens: int) -> bool:
        """Make room for a sequence; False if there is none now (try again later)."""
        return True

    def release(self, seq_id: int) -> None:
        return None

    @abstractmethod
    def view(
        self, ids: Sequence[int | None], start: list[int], feed: list[list[int]], fresh: bool
    ) -> SlotView | PagedView | StaticDecodeView:
        """The step that feeds `feed[b]` to lane b at positions start[b] + i.

        ids: each lane's sequence id, None for a free lane. fresh: every lane starts
        at 0. Unless the store is ragged, every `feed[b]` has the same length.
        """


class ContiguousStore(KVStore):
    """`KVCache` with one row per lane; lanes may feed different numbers of tokens.

    A lane's padding is written past its end, where causality hides it from real
    queries and its next real tokens overwrite it: rows hold `max_seq_len + slack`
    positions so that padding always fits (slack = the longest chunk a step feeds).
    """

    ragged = True

    def __init__(
        self,
        model: Transformer,
        components: Components,
        lanes: int,
        max_seq_len: int,
        slack: int,
        static: bool = False,
    ) -> None:
        super().__init__(model, components, max_seq_len, static)
        args = model.args
        capacity = max_seq_len + slack
        self.cache = components.kv_cache(
            args.n_layers, lanes, capacity, args.n_kv_heads, args.head_dim,
            dtype=model.dtype, device=model.device,
        )  # fmt: skip
        # Row p: the keys a query at position p may attend. Steps gather their rows.
        self.rows = self.mask_fn(capacity, capacity, self.window, device=self.device)

    def view(
        self, ids: Sequence[int | None], start: list[int], feed: list[list[int]], fresh: bool
    ) -> SlotView | StaticDecodeView:
        t = max(len(tokens) for tokens in feed)
        if self.static and t == 1 and isinstance(self.cache, KVCache):
            return self.static_view(self.cache, start)
        start_pos = torch.tensor(start)  # [B] on the CPU, where the cache wants it
        positions = _positions(start_pos, t, self.device)
        end = max(start) + t
        mask = _gather_rows(self.rows, positions, start, end, self.window)
        return SlotView(self.cache, start_pos, positions, end, mask, own_keys=False)


class RollingStore(KVStore):
    """`RollingKVCache` with one row per lane: W slots each, sequences of any length.

    Every lane feeds the same number of tokens: padding would overwrite live slots.
    """

    def __init__(
        self,
        model: Transformer,
        components: Components,
        lanes: int,
        window: int,
        static: bool = False,
    ) -> None:
        super().__init__(model, components, None, static)
        args = model.args
        self.cache = components.rolling_kv_cache(
            args.n_layers, lanes, window, args.n_kv_heads, args.head_dim,
            dtype=model.dtype, device=model.device,
        )  # fmt: skip
        self.w = window

    def view(
        self, ids: Sequence[int | None], start: list[int], feed: list[list[int]], fresh: bool
    ) -> SlotView | StaticDecodeView:
        t = len(feed[0])
        # A decode step's one query per lane attends a set of keys, rotated before they
        # were cached: their order does not matter, so the reference buffer may return
        # its slots as they lie instead of gathering them into time order. A swapped-in
        # cache is called exactly as the kata defines `update`.
        slot_order = t == 1 and not fresh and isinstance(self.cache, RollingKVCache)
        if slot_order and self.static and isinstance(self.cache, RollingKVCache):
            return self.static_view(self.cache, start)  # its mask is its own
        start_pos = torch.tensor(start)  # [B] on the CPU, where the cache wants it
        positions = _positions(start_pos, t, self.device)
        end = max(start) + t
        if fresh:  # the first chunk: attend its own keys, some may not survive the write
            mask = None if t == 1 else self.mask_fn(t, t, self.window, device=self.device)
        else:
            mask = self._window_mask(start, t)
        return SlotView(self.cache, start_pos, positions, end, mask, fresh, slot_order)

    def _window_mask(self, start: list[int], t: int) -> Tensor | None:
        """One token per lane: keys come back oldest first, `lengths[b]` of them valid
        (fewer than W until the lane has seen W tokens)."""
        if t != 1:
            raise ValueError("a rolling cache takes one token per lane after the first chunk")
        lengths = [min(s + 1, self.w) for s in start]
        width = min(max(start) + 1, self.w)
        if min(lengths) == width:
            return None  # every lane sees every key returned
        valid = torch.arange(width) < torch.tensor(lengths)[:, None]  # [B, L]
        return valid[:, None, :].to(self.device, non_blocking=True)  # [B, 1, L]


class PagedStore(KVStore):
    """Blocks from a `BlockAllocator` over a `PagedKVCache`; running sequences only,
    each feeding its own number of tokens.

    Under the engine's scheduler (`reference.scheduler`), which counts blocks itself, a
    sequence gets blocks for its first chunk (`start`) and more as it is fed. A
    `Session` has no scheduler: `admit` takes a sequence only when the free blocks cover
    what every admitted one may still need plus its own worst case (prompt +
    max_new_tokens - 1 tokens), so an append never runs out of blocks.
    """

    ragged = True

    def __init__(
        self,
        model: Transformer,
        components: Components,
        num_blocks: int,
        block_size: int,
        max_seq_len: int,
    ) -> None:
        super().__init__(model, components, max_seq_len)
        args = model.args
        self.num_blocks = num_blocks
        self.allocator = components.block_allocator(num_blocks, block_size)
        self.cache = PagedKVCache(
            args.n_layers, num_blocks, block_size, args.n_kv_heads, args.head_dim,
            dtype=model.dtype, device=model.device,
        )  # fmt: skip
        self.block_size = block_size
        size = math.ceil(max_seq_len / block_size) * block_size  # a gather's widest read
        self.rows = self.mask_fn(size, size, self.window, device=self.device)
        self.budget: dict[int, int] = {}  # request id -> blocks it may hold at its longest
        self.known: dict[int, int] = {}  # request id -> tokens the allocator has been given

    def blocks_for(self, n_prompt: int, max_new_tokens: int) -> int:
        return math.ceil((n_prompt + max_new_tokens - 1) / self.block_size)

    def check(self, n_prompt: int, max_new_tokens: int) -> None:
        super().check(n_prompt, max_new_tokens)
        need = self.blocks_for(n_prompt, max_new_tokens)
        if need > self.num_blocks:
            raise ValueError(f"a request needs {need} blocks, the pool has {self.num_blocks}")

    def admit(self, seq_id: int, prompt: list[int], max_new_tokens: int) -> bool:
        owed = sum(b - len(self.allocator.block_table(i)) for i, b in self.budget.items())
        need = self.blocks_for(len(prompt), max_new_tokens)
        if need > self.allocator.num_free_blocks() - owed:
            return False
        self.allocator.allocate(seq_id, prompt)
        self.budget[seq_id] = need
        self.known[seq_id] = len(prompt)
        return True

    def start(self, seq_id: int, tokens: list[int]) -> None:
        """Blocks for a sequence's first chunk only, under a scheduler that counts the
        blocks itself (`reference.scheduler`): later chunks are appended as they are fed."""
        self.allocator.allocate(seq_id, tokens)
        self.known[seq_id] = len(tokens)

    def release(self, seq_id: int) -> None:
        self.allocator.free(seq_id)
        self.budget.pop(seq_id, None)  # absent for a sequence a scheduler started
        del self.known[seq_id]

    def view(
        self, ids: Sequence[int | None], start: list[int], feed: list[list[int]], fresh: bool
    ) -> PagedView:
        counts = [len(tokens) for tokens in feed]
        t, bs = max(counts), self.block_size
        tables, slots = [], []
        for seq_id, s, tokens in zip(ids, start, feed, strict=True):
            assert seq_id is not None  # a paged step computes running sequences only
            have = self.known[seq_id]
            if s + len(tokens) > have:  # generated tokens join the sequence as they are fed
                self.cache.copy_blocks(self.allocator.append(seq_id, tokens[have - s :]))
                self.known[seq_id] = s + len(tokens)
            table = self.allocator.block_table(seq_id)
            tables.append(table)
            slots += slot_mapping(table, s, s + len(tokens), bs)
        real = None
        if min(counts) < t:  # row b * T + i of the flattened chunk is real iff i < counts[b]
            real = torch.tensor([b * t + i for b, n in enumerate(counts) for i in range(n)])
            real = real.to(self.device, non_blocking=True)
        # A padding query repeats its lane's last real position: in range, and harmless.
        positions = torch.tensor(
            [[s + min(i, n - 1) for i in range(t)] for s, n in zip(start, counts, strict=True)]
        ).to(self.device, non_blocking=True)  # [B, T]
        block_tables = block_tables_tensor(tables, self.device)  # [B, max_blocks]
        width = block_tables.shape[1] * bs  # a gather returns whole blocks
        return PagedView(
            self.cache,
            torch.tensor(slots, device=self.device),
            real,
            block_tables,
            torch.tensor([s + n for s, n in zip(start, counts, strict=True)], device=self.device),
            positions,
            max(start) + t,
            _gather_rows(self.rows, positions, start, width, self.window),
        )


def _gather_rows(
    rows: Tensor, positions: Tensor, start: list[int], width: int, window: int | None
) -> Tensor | None:
    """Mask `[B, T, width]` for keys at absolute positions 0..width-1: row p of the big
    mask for a query at position p. None when nothing needs masking: one token per
    lane, every lane at the last position and the window covering every key."""
    b, t = positions.shape
    if t == 1 and min(start) == max(start) == width - 1 and (window is None or window >= width):
        return None
    return rows.index_select(0, positions.flatten()).view(b, t, -1)[:, :, :width]


def make_store(
    model: Transformer,
    components: Components,
    cache: CacheKind,
    lanes: int,
    max_seq_len: int,
    block_size: int = 16,
    num_blocks: int | None = None,
    slack: int = 0,
    static: bool = False,
) -> KVStore:
    """The store for `cache` over `lanes` batch rows ("auto": rolling when the model's
    window is shorter than `max_seq_len`, else contiguous). `slack`: the longest chunk
    a step feeds; `static`: one-token steps get a `StaticDecodeView` (the paged cache
    has none)."""
    window = model.args.sliding_window
    if cache == "auto":
        cache = "rolling" if window is not None and window < max_seq_len else "contiguous"
    if cache == "paged":
        blocks = num_blocks or lanes * math.ceil(max_seq_len / block_size)
        return PagedStore(model, components, blocks, block_size, max_seq_len)
    if cache == "rolling":
        if window is None:
            raise ValueError("a rolling cache needs a model with a sliding window")
        return RollingStore(model, components, lanes, window, static)
    if cache == "contiguous":
        return ContiguousStore(model, components, lanes, max_seq_len, slack, static)
    raise ValueError(f"unknown cache {cache!r}: auto, contiguous, rolling or paged")
