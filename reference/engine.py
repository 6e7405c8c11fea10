"""Generation: prefill, decode, sampling, stop conditions and continuous batching.

`generate(model, prompts, max_new_tokens)` returns the new tokens of each prompt. It
is a thin wrapper over `Engine`, which runs a batch of requests step by step:
requests join (`add_request`) and leave (a stop token or their token budget) between
steps, and each new token reaches its request's `on_token` callback as it is made.
`Session` is the bare model-plus-cache loop underneath: feed `[B, T]` tokens, get
their logits, as many times as the cache holds.

Scheduling: one step, one forward pass
--------------------------------------
The engine holds up to `max_batch` running requests, one per *lane* of the batch. A
step feeds every lane some tokens, right-padded to the longest, and samples a token
for each lane whose prompt is now all in the cache. How many tokens a lane may feed
depends on what the KV cache can take:

- paged and contiguous caches (`ragged`): each lane feeds what it has, the rest of
  its prompt (at most `prefill_chunk` tokens) or its last generated token, so a
  request that joins a running batch is prefilled in the step after it arrives;
  padding is never read (paged: never written; contiguous: written past the lane's
  end, where causality hides it until real tokens overwrite it);
- rolling buffer: padding would overwrite live slots, so every lane feeds the same
  T. When every running request is new, T is the shortest prompt among them (one
  prefill chunk); otherwise T = 1, and lanes still inside their prompt feed its
  next token (teacher forcing) beside the others' decoding, as Meta's reference
  LLaMA `generate` does for prompts of different lengths.

Worked example, rolling buffer, prompts of lengths 2 and 4 added before step 1:

    step  T  lane 0 (prompt a b)   lane 1 (prompt c d e f)
    1     2  feeds a b -> emits x  feeds c d
    2     1  feeds x   -> emits y  feeds e
    3     1  feeds y   -> emits z  feeds f   -> emits u
    4     1  ...                   feeds u   -> emits ...

With a paged cache step 1 feeds `a b _ _` and `c d e f` (T = 4, `_` padding) and
both lanes emit; from step 2 on both feed one token.

KV caches (`cache=`)
--------------------
- "contiguous": `KVCache`, one row of `max_seq_len` positions per lane;
- "rolling": `RollingKVCache`, a window of W slots per lane (models with a sliding
  window W; sequences may then run longer than `max_seq_len`);
- "paged": `PagedKVCache` blocks handed out by a `BlockAllocator`: a request holds
  blocks for the tokens it has, and only running requests are computed;
- "auto" (default): rolling when the model's window is shorter than `max_seq_len`,
  contiguous otherwise.

With the contiguous and rolling caches the batch always has `max_batch` lanes; a free
lane computes a dummy token at position 0 and nothing reads it.

Masks. Queries attend what the cache returns after this step's write, except a
rolling buffer's first chunk, which attends its own keys with the `[T, T]`
sliding-window mask (a chunk longer than W evicts its own first keys). Where keys
come back at their absolute positions (contiguous, paged) the mask is a gather of
rows from one `[S, S]` mask built once per engine: row p is "a query at position
p". A rolling decode step masks the unfilled tail of young lanes' windows, and reads
the reference buffer in slot order (no gather: one query per lane, keys already
rotated, so key order does not matter). No mask at all when every key returned is
visible to every query.

Swapping components
-------------------
Every part that a kata exercises comes from a `Components` value with the reference
implementations as defaults. Pass another to `Engine`, `Session` or `generate` to run
a different implementation inside the same engine; greedy tokens must not change:

    Components(sample=solution.sample)                       # sampling kata
    Components(sliding_window_mask=solution.sliding_window_mask)
    Components(kv_cache=solution.KVCache, rolling_kv_cache=solution.RollingKVCache)
    Components(moe_forward=solution.moe_forward)             # Mixtral models
    Components(block_allocator=solution.BlockAllocator)      # with cache="paged"

The engine calls them only as the kata prompts define them:

    sample(logits, temperature=, top_k=, top_p=, min_p=, generator=) -> [B] ids
        once per step, on the lanes that emit (temperature 0: greedy);
    sliding_window_mask(q_len, kv_len, window, device=)
        once per engine (contiguous, paged), or per first chunk (rolling);
    KVCache / RollingKVCache(n_layers, batch, capacity, n_kv_heads, head_dim,
        dtype=, device=), then .update(layer, k, v, start_pos) per layer and step
        (never with `n_new`);
    moe_forward(x, router_weight, w1, w2, w3, k) per MoE layer and step;
    BlockAllocator(num_blocks, block_size): allocate, append, free, block_table,
        num_free_blocks (no fork, no prefix caching).

Compiling (`compile=True`)
--------------------------
Batch-1 decoding of a small model is bound by per-kernel overhead, not arithmetic: a
step is a few hundred small kernels, each launched from Python. With `compile=True`
the engine runs each one-token step over the reference contiguous or rolling cache
through `torch.compile` (inductor), which fuses the elementwise work between the
matmuls and runs the step as one graph (`_decode_step`): the logits, and each lane's
argmax, which stands in for the sampler when every emitting lane is greedy and the
sampler is the reference one (a swapped-in sampler is always called). On CPU the
graph's wrapper is generated as C++ rather than Python. For the benchmark's tiny
model on a 2-core CPU: about 4x transformers' tokens/s, against 1.5x to 1.9x eager
(docs/benchmarks.md). The first such step compiles (seconds to tens of seconds); a
step of a new shape (batch, cache size) compiles once more, with dynamic shapes,
and that graph serves every later shape. Prefill, the paged cache and swapped-in
caches stay eager. The compiled step attends a lane's whole row of the cache with a
mask (`_StaticDecodeView`): the same keys as the eager step, and the same greedy
tokens (tested).

Sampling uses one generator for the whole batch: with temperature > 0, a request's
tokens depend on which requests share its steps. Greedy decoding does not.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import torch
from torch import Tensor

from reference.kv_cache import KVCache, RollingKVCache
from reference.masks import sliding_window_mask
from reference.model import MoeFn, Transformer
from reference.moe import moe_forward
from reference.paged import BlockAllocator, PagedKVCache, block_tables_tensor, slot_mapping
from reference.sampling import check_parameters, greedy_tokens, sample

__all__ = ["CacheKind", "Components", "Engine", "Request", "Session", "generate"]

CacheKind = Literal["auto", "contiguous", "rolling", "paged"]


# -- the swappable parts -----------------------------------------------------------


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


@dataclass(frozen=True)
class Components:
    """The implementations the engine runs; the reference ones by default."""

    sample: SampleFn = sample
    sliding_window_mask: MaskFn = sliding_window_mask
    kv_cache: CacheFactory = KVCache
    rolling_kv_cache: CacheFactory = RollingKVCache
    moe_forward: MoeFn = moe_forward
    block_allocator: Callable[[int, int], AllocatorLike] = BlockAllocator


# -- requests ----------------------------------------------------------------------


@dataclass
class Request:
    """One prompt's generation; `output` grows by one token per step once the prompt is in."""

    id: int
    prompt: list[int]
    max_new_tokens: int
    temperature: float
    top_k: int
    top_p: float
    min_p: float
    stop_ids: frozenset[int]
    on_token: Callable[[int], None] | None
    output: list[int] = field(default_factory=list)
    fed: int = 0  # tokens already in the KV cache (prompt first, then output)
    done: bool = False

    @property
    def prompt_left(self) -> int:
        return max(len(self.prompt) - self.fed, 0)

    def next_tokens(self, t: int) -> list[int]:
        """The next t tokens to feed: the rest of the prompt, then the last token generated."""
        if self.fed < len(self.prompt):
            return self.prompt[self.fed : self.fed + t]
        return self.output[-1:]

    @property
    def sampling(self) -> tuple[float, int, float, float]:
        return self.temperature, self.top_k, self.top_p, self.min_p


# -- KV storage: one view per step -------------------------------------------------


@dataclass
class _SlotView:
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
class _PagedView:
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
class _StaticDecodeView:
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


def _positions(start: Tensor, t: int, device: torch.device) -> Tensor:
    """int64 [B, T]: lane b's new tokens sit at start[b] .. start[b] + T - 1."""
    pos = start[:, None] if t == 1 else start[:, None] + torch.arange(t)
    return pos.to(device, non_blocking=True)


class _Store(ABC):
    """What the engine needs from a KV layout: room for requests, and a view per step."""

    ragged = False  # True: lanes may feed different numbers of tokens in one step
    compact = False  # True: a step computes running sequences only, not free lanes

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
        self.static = static  # decode steps get a `_StaticDecodeView` (Engine's `compile`)

    def static_view(self, cache: KVCache | RollingKVCache, start: list[int]) -> _StaticDecodeView:
        """A one-token step at positions `start`, for the compiled graph."""
        # One small tensor op rather than three: after a step has streamed the weights,
        # each costs several microseconds more than it does alone.
        positions = torch.tensor([[s] for s in start], device=self.device)  # [B, 1]
        rope_rows = self.model.rope_table(max(start) + 1)[0].shape[0]  # grows by doubling
        rolling = isinstance(cache, RollingKVCache)
        return _StaticDecodeView(cache.k, cache.v, positions, rope_rows, self.window, rolling)

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
    ) -> _SlotView | _PagedView | _StaticDecodeView:
        """The step that feeds `feed[b]` to lane b at positions start[b] + i.

        ids: each lane's sequence id, None for a free lane. fresh: every lane starts
        at 0. Unless the store is ragged, every `feed[b]` has the same length.
        """


class _ContiguousStore(_Store):
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
    ) -> _SlotView | _StaticDecodeView:
        t = max(len(tokens) for tokens in feed)
        if self.static and t == 1 and isinstance(self.cache, KVCache):
            return self.static_view(self.cache, start)
        start_pos = torch.tensor(start)  # [B] on the CPU, where the cache wants it
        positions = _positions(start_pos, t, self.device)
        end = max(start) + t
        mask = _gather_rows(self.rows, positions, start, end, self.window)
        return _SlotView(self.cache, start_pos, positions, end, mask, own_keys=False)


class _RollingStore(_Store):
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
    ) -> _SlotView | _StaticDecodeView:
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
        return _SlotView(self.cache, start_pos, positions, end, mask, fresh, slot_order)

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


class _PagedStore(_Store):
    """Blocks from a `BlockAllocator` over a `PagedKVCache`; running sequences only,
    each feeding its own number of tokens.

    A request is admitted only when the free blocks cover what every running request
    may still need plus its own worst case (prompt + max_new_tokens - 1 tokens), so
    an append never runs out of blocks and nothing has to be preempted.
    """

    ragged = compact = True

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

    def release(self, seq_id: int) -> None:
        self.allocator.free(seq_id)
        del self.budget[seq_id], self.known[seq_id]

    def view(
        self, ids: Sequence[int | None], start: list[int], feed: list[list[int]], fresh: bool
    ) -> _PagedView:
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
        return _PagedView(
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


def _make_store(
    model: Transformer,
    components: Components,
    cache: CacheKind,
    lanes: int,
    max_seq_len: int,
    block_size: int = 16,
    num_blocks: int | None = None,
    slack: int = 0,
    static: bool = False,
) -> _Store:
    window = model.args.sliding_window
    if cache == "auto":
        cache = "rolling" if window is not None and window < max_seq_len else "contiguous"
    if cache == "paged":
        blocks = num_blocks or lanes * math.ceil(max_seq_len / block_size)
        return _PagedStore(model, components, blocks, block_size, max_seq_len)
    if cache == "rolling":
        if window is None:
            raise ValueError("a rolling cache needs a model with a sliding window")
        return _RollingStore(model, components, lanes, window, static)
    if cache == "contiguous":
        return _ContiguousStore(model, components, lanes, max_seq_len, slack, static)
    raise ValueError(f"unknown cache {cache!r}: auto, contiguous, rolling or paged")


class Session:
    """The model and a KV cache for `batch_size` sequences that grow together.

    `session(tokens)` feeds the next T tokens `[B, T]` of every sequence (positions
    `length .. length + T - 1`) and returns their logits `[B, T, V]`: a prefill, then
    decode steps, each a forward over the new tokens only. With a rolling cache every
    call after the first feeds one token.
    """

    def __init__(
        self,
        model: Transformer,
        batch_size: int = 1,
        max_seq_len: int = 2048,
        *,
        cache: CacheKind = "auto",
        block_size: int = 16,
        components: Components | None = None,
    ) -> None:
        self.model = model
        self.components = components or Components()
        self.batch_size, self.max_seq_len = batch_size, max_seq_len
        self.store = _make_store(model, self.components, cache, batch_size, max_seq_len, block_size)
        self.length = 0  # tokens every sequence has

    @torch.inference_mode()
    def __call__(self, tokens: Tensor) -> Tensor:
        b, t = tokens.shape
        if b != self.batch_size:
            raise ValueError(f"expected {self.batch_size} sequences, got {b}")
        self.store.check(self.length + t, 1)
        feed: list[list[int]] = tokens.tolist()
        ids = list(range(b))
        if self.length == 0:  # room for every sequence to grow to max_seq_len
            for i in ids:
                if not self.store.admit(i, feed[i], self.max_seq_len - t + 1):
                    raise ValueError(f"no room for sequence {i} in the KV cache")
        view = self.store.view(ids, [self.length] * b, feed, fresh=self.length == 0)
        logits: Tensor = self.model(tokens, view, moe_forward=self.components.moe_forward)
        self.length += t
        return logits


# -- the engine --------------------------------------------------------------------


class Engine:
    """Continuous batching over one model: `add_request`, then `step` until idle (or `run`)."""

    def __init__(
        self,
        model: Transformer,
        *,
        max_batch: int = 8,
        max_seq_len: int = 2048,
        cache: CacheKind = "auto",
        block_size: int = 16,
        num_blocks: int | None = None,
        prefill_chunk: int = 512,
        components: Components | None = None,
        generator: torch.Generator | None = None,
        compile: bool = False,
    ) -> None:
        if min(max_batch, max_seq_len, prefill_chunk) < 1:
            raise ValueError(
                f"max_batch, max_seq_len and prefill_chunk must be >= 1, got "
                f"{max_batch}, {max_seq_len}, {prefill_chunk}"
            )
        self.model = model
        self.components = components or Components()
        self.generator = generator
        self.prefill_chunk = prefill_chunk  # the most prompt tokens a lane feeds in one step
        self.store = _make_store(
            model, self.components, cache, max_batch, max_seq_len, block_size, num_blocks,
            slack=min(prefill_chunk, max_seq_len), static=compile,
        )  # fmt: skip
        self.compiled: Callable[..., tuple[Tensor, Tensor]] | None = None
        if compile:
            # Only one-token steps over the reference contiguous or rolling cache are
            # compiled (traced on first use; see "Compiling" above). The RoPE table is
            # sized up front: growing it changes the graph's inputs and compiles again.
            model.rope_table(max_seq_len)
            # On CPU the graph's own wrapper, Python by default, launches each of its
            # ~40 kernels at a few microseconds apiece; generated as C++ it costs
            # about a fifth less per step (docs/benchmarks.md). On CUDA: the default.
            self.compiled = _compiled_decode_step(cpp_wrapper=model.device.type == "cpu")
        self.lanes: list[Request | None] = [None] * max_batch
        self.waiting: deque[Request] = deque()
        self.requests: dict[int, Request] = {}

    def add_request(
        self,
        prompt: Sequence[int],
        max_new_tokens: int,
        *,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        min_p: float = 0.0,
        stop_ids: Sequence[int] | None = None,
        on_token: Callable[[int], None] | None = None,
    ) -> int:
        """Queue a prompt; returns its id. `stop_ids` defaults to the model's eos ids.

        The request joins the batch at the next step with a free lane. It ends after
        `max_new_tokens` tokens or after a stop token (which is kept in the output).
        """
        if not prompt:
            raise ValueError("a prompt needs at least one token")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        check_parameters(temperature, top_k, top_p, min_p)  # now, not steps later
        stops = self.model.args.eos_ids if stop_ids is None else stop_ids
        request = Request(
            len(self.requests), list(prompt), max_new_tokens,
            temperature, top_k, top_p, min_p, frozenset(stops), on_token,
        )  # fmt: skip
        self.store.check(len(request.prompt), max_new_tokens)
        self.requests[request.id] = request
        if max_new_tokens == 0:
            request.done = True
        else:
            self.waiting.append(request)
        return request.id

    @property
    def has_work(self) -> bool:
        return bool(self.waiting) or any(r is not None for r in self.lanes)

    def output(self, request_id: int) -> list[int]:
        """The tokens generated so far for a request."""
        return self.requests[request_id].output

    def run(self) -> dict[int, list[int]]:
        """Step until every request is done; their outputs by id."""
        while self.has_work:
            self.step()
        return {i: r.output for i, r in self.requests.items()}

    @torch.inference_mode()
    def step(self) -> list[tuple[int, int]]:
        """One forward pass over the batch; the (request id, token) pairs it produced."""
        self._admit()
        running = [r for r in self.lanes if r is not None]
        if not running:
            return []
        lanes: list[Request | None] = list(running) if self.store.compact else self.lanes
        fresh = all(r is None or r.fed == 0 for r in lanes)
        if self.store.ragged:  # each lane feeds what it has: its prompt, or one token
            counts = [min(r.prompt_left, self.prefill_chunk) or 1 if r else 1 for r in lanes]
        else:  # every lane feeds the same T tokens
            t = min(len(r.prompt) for r in running) if fresh else 1
            counts = [t] * len(lanes)
        feed = [r.next_tokens(n) if r else [0] * n for r, n in zip(lanes, counts, strict=True)]
        start = [r.fed if r is not None else 0 for r in lanes]
        view = self.store.view([r.id if r else None for r in lanes], start, feed, fresh)
        t = max(counts)
        tokens = torch.tensor([f + [0] * (t - len(f)) for f in feed], device=self.model.device)
        last: int | Tensor = -1  # where each lane's last real token sits in the chunk
        if min(counts) < t:
            last = torch.tensor([n - 1 for n in counts], device=self.model.device)
        greedy: Tensor | None = None  # each lane's greedy token, from a compiled step
        if self.compiled is not None and isinstance(view, _StaticDecodeView):
            logits, greedy = self.compiled(self.model, tokens, view, self.components.moe_forward)
        else:
            logits = self.model(tokens, view, last=last, moe_forward=self.components.moe_forward)
        for r, n in zip(lanes, counts, strict=True):
            if r is not None:
                r.fed += n
        # Lanes whose prompt is now all in the cache: their last logits predict a new token.
        emit = [(b, r) for b, r in enumerate(lanes) if r is not None and r.fed >= len(r.prompt)]
        if not emit:
            return []
        new = self._greedy(greedy, emit) if greedy is not None else None
        if new is None:
            new = self._sample(logits[:, 0], emit, len(lanes))
        events = []
        for (_, request), token in zip(emit, new, strict=True):
            request.output.append(token)
            events.append((request.id, token))
            if request.on_token is not None:
                request.on_token(token)
            if token in request.stop_ids or len(request.output) >= request.max_new_tokens:
                self._finish(request)
        return events

    def _admit(self) -> None:
        """Move waiting requests into free lanes, first come first served."""
        for i, lane in enumerate(self.lanes):
            if not self.waiting:
                return
            if lane is None:
                first = self.waiting[0]
                if not self.store.admit(first.id, first.prompt, first.max_new_tokens):
                    return  # the paged pool is full: wait for a request to finish
                self.lanes[i] = self.waiting.popleft()

    def _finish(self, request: Request) -> None:
        request.done = True
        self.lanes = [None if r is request else r for r in self.lanes]
        self.store.release(request.id)

    def _greedy(self, greedy: Tensor, emit: list[tuple[int, Request]]) -> list[int] | None:
        """The compiled step's argmax tokens, when they are what the sampler would return:
        the reference sampler, every emitting lane greedy, every row's max finite (else
        None, and the sampler decides, or refuses the row)."""
        if self.components.sample is not sample or any(r.temperature != 0 for _, r in emit):
            return None
        tokens: list[int] = greedy.tolist()  # the step's one host sync
        new = [tokens[b] for b, _ in emit]
        return new if min(new) >= 0 else None

    def _sample(self, logits: Tensor, emit: list[tuple[int, Request]], n_lanes: int) -> list[int]:
        """One token per emitting lane; parameters as scalars when the lanes agree."""
        if len(emit) != n_lanes:
            logits = logits[torch.tensor([b for b, _ in emit], device=logits.device)]  # [n, V]
        requests = [r for _, r in emit]
        params = {r.sampling for r in requests}
        temperature: float | Tensor
        top_k: int | Tensor
        top_p: float | Tensor
        min_p: float | Tensor
        if len(params) == 1:
            temperature, top_k, top_p, min_p = params.pop()
        else:  # per-row parameters, [n] each

            def column(values: list[float] | list[int]) -> Tensor:
                return torch.tensor(values, device=logits.device)

            temperature = column([r.temperature for r in requests])
            top_k = column([r.top_k for r in requests])
            top_p = column([r.top_p for r in requests])
            min_p = column([r.min_p for r in requests])
        tokens = self.components.sample(
            logits,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            min_p=min_p,
            generator=self.generator,
        )
        out: list[int] = tokens.tolist()  # the step's one host sync: stop checks need the ids
        return out


def _decode_step(
    model: Transformer, tokens: Tensor, view: _StaticDecodeView, moe_forward: MoeFn
) -> tuple[Tensor, Tensor]:
    """A one-token step as `Engine(compile=True)` compiles it: logits `[B, 1, V]`, and
    each lane's greedy token `[B]` (`reference.sampling.greedy_tokens`: -1 where the
    row's max is not finite).

    Taken inside the graph, the greedy tokens save the few separate small kernels that
    sampling would launch after it, each slowed by caches the step's weights evicted.
    """
    logits = model(tokens, view, last=-1, moe_forward=moe_forward)
    return logits, greedy_tokens(logits[:, 0])


@functools.cache
def _compiled_decode_step(cpp_wrapper: bool) -> Callable[..., tuple[Tensor, Tensor]]:
    """`torch.compile(_decode_step)`, made once: making it costs about a millisecond,
    which `generate` would pay on every call. (Compiled graphs are cached by torch.)"""
    return torch.compile(_decode_step, options={"cpp_wrapper": cpp_wrapper})


def generate(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    temperature: float = 0.0,
    *,
    top_k: int = 0,
    top_p: float = 1.0,
    min_p: float = 0.0,
    stop_ids: Sequence[int] | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    cache: CacheKind = "auto",
    block_size: int = 16,
    components: Components | None = None,
    compile: bool = False,
) -> list[list[int]]:
    """The new tokens of each prompt (greedy at temperature 0), all prompts in one batch.

    Generation stops after `max_new_tokens` or at a stop token (kept in the output);
    `stop_ids` defaults to the model's eos ids, `()` disables it. With temperature > 0
    draws come from `generator`, else from a new one seeded with `seed`, else from
    torch's global generator. `compile`: see `Engine`.
    """
    if not prompts:
        return []
    if generator is None and seed is not None:
        generator = torch.Generator(model.device).manual_seed(seed)
    engine = Engine(
        model,
        max_batch=len(prompts),
        max_seq_len=max(len(p) for p in prompts) + max_new_tokens,
        cache=cache,
        block_size=block_size,
        components=components,
        generator=generator,
        compile=compile,
    )
    ids = [
        engine.add_request(
            p, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
            min_p=min_p, stop_ids=stop_ids,
        )
        for p in prompts
    ]  # fmt: skip
    engine.run()
    return [engine.output(i) for i in ids]
