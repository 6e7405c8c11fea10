"""Generation: requests, continuous batching, the compiled decode step and `generate`.

`generate` runs prompts through an `Engine`, which schedules requests step by step
over a KV layout (`reference.kv_layout`) with swappable parts (`reference.components`).
`Session` is the bare model-plus-cache loop. Design: docs/engine.md.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from reference.components import Components, SchedulerLike
from reference.kv_layout import CacheKind, PagedStore, StaticDecodeView, make_store
from reference.model import AttentionFn, MoeFn, Transformer
from reference.sampling import check_parameters, greedy_tokens, sample

__all__ = ["Engine", "Request", "Session", "generate"]

# (model, tokens [B, 1], view, moe_forward, attend) -> (logits [B, 1, V], greedy tokens [B])
DecodeFn = Callable[..., tuple[Tensor, Tensor]]


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
    def pending(self) -> int:
        """Known tokens not yet in the cache: the rest of the prompt, or the last token
        generated (after a preemption, everything known, to be recomputed)."""
        return len(self.prompt) + len(self.output) - self.fed

    def next_tokens(self, t: int) -> list[int]:
        """The next t known tokens to feed (prompt, then output), from `fed` on."""
        start, n_prompt = self.fed, len(self.prompt)
        tokens = self.prompt[start : start + t]
        return tokens + self.output[max(start - n_prompt, 0) : start + t - n_prompt]

    @property
    def sampling(self) -> tuple[float, int, float, float]:
        return self.temperature, self.top_k, self.top_p, self.min_p

    def take(self, token: int) -> bool:
        """Append a new token and stream it; True when it ends the request."""
        self.output.append(token)
        if self.on_token is not None:
            self.on_token(token)
        return token in self.stop_ids or len(self.output) >= self.max_new_tokens


# -- the engine --------------------------------------------------------------------


class Engine:
    """Continuous batching over one model: `add_request`, then `step` until idle (or `run`).

    `compile=True` runs those decode steps that can be as one `torch.compile` graph, with
    the same greedy tokens (docs/engine.md, "Compiling"). One `generator` serves the
    whole batch: a sampled request's tokens depend on which requests share its steps.
    Greedy ones do not.
    """

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
        token_budget: int | None = None,
        components: Components | None = None,
        generator: torch.Generator | None = None,
        compile: bool = False,
    ) -> None:
        token_budget = max_batch * prefill_chunk if token_budget is None else token_budget
        if min(max_batch, max_seq_len, prefill_chunk, token_budget) < 1:
            raise ValueError(
                f"max_batch, max_seq_len, prefill_chunk and token_budget must be >= 1, got "
                f"{max_batch}, {max_seq_len}, {prefill_chunk}, {token_budget}"
            )
        self.model = model
        self.components = components or Components()
        self.generator = generator
        self.prefill_chunk = prefill_chunk  # the most prompt tokens a lane feeds in one step
        self.store = make_store(
            model, self.components, cache, max_batch, max_seq_len, block_size, num_blocks,
            slack=min(prefill_chunk, max_seq_len), static=compile,
        )  # fmt: skip
        # Only one-token steps over a reference contiguous or rolling cache compile: their
        # shapes and Python values stay the same from step to step (`StaticDecodeView`).
        self.compiled = _compile_decode(model, max_seq_len) if compile else None
        self.lanes: list[Request | None] = [None] * max_batch
        self.waiting: deque[Request] = deque()
        self.requests: dict[int, Request] = {}
        # The paged cache is scheduled as vLLM's v1 scheduler does (docs/engine.md,
        # "Scheduling"): a token budget, blocks taken as tokens are computed, preemption.
        self.scheduler: SchedulerLike | None = None
        if isinstance(self.store, PagedStore):
            self.scheduler = self.components.scheduler(
                token_budget=token_budget,
                num_blocks=self.store.num_blocks,
                block_size=block_size,
                max_running=max_batch,
            )

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
        elif self.scheduler is not None:
            self.scheduler.add_request(request.id, len(request.prompt), max_new_tokens)
        else:
            self.waiting.append(request)
        return request.id

    @property
    def has_work(self) -> bool:
        if self.scheduler is not None:
            return self.scheduler.has_work
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
        if self.scheduler is not None:
            assert isinstance(self.store, PagedStore)
            return self._scheduled_step(self.scheduler, self.store)
        self._admit()
        if all(r is None for r in self.lanes):
            return []
        lanes = self._batch()
        fresh = all(r is None or r.fed == 0 for r in lanes)
        counts = self._counts(lanes, fresh)
        logits, greedy = self._forward(lanes, counts, fresh)
        emit = _advance(lanes, counts)
        if not emit:  # every lane is still inside its prompt
            return []
        return self._deliver(emit, self._next_tokens(logits, greedy, emit, len(lanes)))

    # -- scheduling ----------------------------------------------------------------

    def _scheduled_step(self, scheduler: SchedulerLike, store: PagedStore) -> list[tuple[int, int]]:
        """A step of the paged cache: the scheduler says who computes how many tokens."""
        plan = scheduler.schedule()
        for request_id in plan.preempted:  # recomputed from its first token when it returns
            store.release(request_id)
            self.requests[request_id].fed = 0
        if not plan.scheduled:
            return []
        lanes: list[Request | None] = [self.requests[i] for i in plan.scheduled]
        counts = list(plan.scheduled.values())
        for request, n in zip(lanes, counts, strict=True):
            assert request is not None
            if request.fed == 0:
                store.start(request.id, request.next_tokens(n))
        logits, greedy = self._forward(lanes, counts, fresh=False)
        emit = _advance(lanes, counts)
        events = []
        if emit:  # else every request fed a prefill chunk that ends inside its prompt
            events = self._deliver(emit, self._next_tokens(logits, greedy, emit, len(lanes)))
        ended = [r.id for _, r in emit if r.done]
        finished = scheduler.update(plan, ended)
        if sorted(finished) != sorted(ended):
            raise RuntimeError(f"the scheduler finished requests {finished}, the engine {ended}")
        return events

    def _admit(self) -> None:
        """Move waiting requests into free lanes, first come first served."""
        for i, lane in enumerate(self.lanes):
            if not self.waiting:
                return
            if lane is None:
                first = self.waiting[0]
                if not self.store.admit(first.id, first.prompt, first.max_new_tokens):
                    return  # no room in the store now: wait for a request to finish
                self.lanes[i] = self.waiting.popleft()

    def _batch(self) -> list[Request | None]:
        """The lanes this step computes, None for a free one (one row per lane)."""
        return list(self.lanes)

    def _counts(self, lanes: list[Request | None], fresh: bool) -> list[int]:
        """How many tokens each lane feeds this step."""
        if self.store.ragged:  # padding is never read, so each lane feeds what it has
            return [min(r.pending, self.prefill_chunk) if r else 1 for r in lanes]
        # Padding would overwrite a rolling buffer's live slots, so every lane feeds the
        # same T: a first chunk together, then one token each (prompts teacher-forced).
        t = min(len(r.prompt) for r in lanes if r is not None) if fresh else 1
        return [t] * len(lanes)

    def _finish(self, request: Request) -> None:
        request.done = True
        self.lanes = [None if r is request else r for r in self.lanes]
        self.store.release(request.id)  # (a scheduler frees its own count in `update`)

    # -- the forward pass ----------------------------------------------------------

    def _forward(
        self, lanes: list[Request | None], counts: list[int], fresh: bool
    ) -> tuple[Tensor, Tensor | None]:
        """Feed each lane its tokens: the logits of its last one `[B, 1, V]`, and each
        lane's greedy token `[B]` when the step ran compiled."""
        feed = [r.next_tokens(n) if r else [0] * n for r, n in zip(lanes, counts, strict=True)]
        start = [r.fed if r else 0 for r in lanes]
        view = self.store.view([r.id if r else None for r in lanes], start, feed, fresh)
        tokens = _right_pad(feed, self.model.device)
        moe_forward, attend = self.components.moe_forward, self.components.attention
        if self.compiled is not None and isinstance(view, StaticDecodeView):
            return self.compiled(self.model, tokens, view, moe_forward, attend)
        last = _last_real(counts, self.model.device)
        return self.model(tokens, view, last=last, moe_forward=moe_forward, attend=attend), None

    # -- choosing tokens -----------------------------------------------------------

    def _next_tokens(
        self, logits: Tensor, greedy: Tensor | None, emit: list[tuple[int, Request]], n_lanes: int
    ) -> list[int]:
        """One token per emitting lane, from every lane's logits `[n_lanes, 1, V]`."""
        tokens = self._greedy(greedy, emit)
        return tokens if tokens is not None else self._sample(logits[:, 0], emit, n_lanes)

    def _greedy(self, greedy: Tensor | None, emit: list[tuple[int, Request]]) -> list[int] | None:
        """The compiled step's argmax tokens, when they are what the sampler would return:
        the reference sampler, every emitting lane greedy, every row's max finite (else
        None, and the sampler decides, or refuses the row)."""
        if greedy is None:
            return None
        if self.components.sample is not sample or any(r.temperature != 0 for _, r in emit):
            return None
        tokens: list[int] = greedy.tolist()  # the step's one host sync
        new = [tokens[b] for b, _ in emit]
        return new if min(new) >= 0 else None

    def _sample(self, logits: Tensor, emit: list[tuple[int, Request]], n_lanes: int) -> list[int]:
        """The sampler's token for each emitting lane's row of `logits` `[n_lanes, V]`."""
        if len(emit) != n_lanes:
            logits = logits[torch.tensor([b for b, _ in emit], device=logits.device)]  # [n, V]
        temperature, top_k, top_p, min_p = _sampling_args([r for _, r in emit], logits.device)
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

    def _deliver(self, emit: list[tuple[int, Request]], tokens: list[int]) -> list[tuple[int, int]]:
        """Hand each emitting request its token; finish those it ends."""
        events = []
        for (_, request), token in zip(emit, tokens, strict=True):
            events.append((request.id, token))
            if request.take(token):
                self._finish(request)
        return events


def _right_pad(feed: list[list[int]], device: torch.device) -> Tensor:
    """int64 `[B, T]`: each lane's tokens, right-padded with 0 to the longest."""
    t = max(len(f) for f in feed)
    return torch.tensor([f + [0] * (t - len(f)) for f in feed], device=device)


def _last_real(counts: list[int], device: torch.device) -> int | Tensor:
    """Where each lane's last real token sits in the chunk: -1 for every lane, or `[B]`."""
    if min(counts) == max(counts):
        return -1
    return torch.tensor([n - 1 for n in counts], device=device)


def _advance(lanes: list[Request | None], counts: list[int]) -> list[tuple[int, Request]]:
    """Count the fed tokens in; (lane, request) for each request whose known tokens are
    now all in the cache: its last logits predict a new token."""
    for r, n in zip(lanes, counts, strict=True):
        if r is not None:
            r.fed += n
    return [(b, r) for b, r in enumerate(lanes) if r is not None and r.pending == 0]


def _sampling_args(
    requests: list[Request], device: torch.device
) -> tuple[float | Tensor, int | Tensor, float | Tensor, float | Tensor]:
    """temperature, top_k, top_p, min_p: scalars when the requests agree, else `[n]` each."""
    params = {r.sampling for r in requests}
    if len(params) == 1:
        return params.pop()
    return (
        torch.tensor([r.temperature for r in requests], device=device),
        torch.tensor([r.top_k for r in requests], device=device),
        torch.tensor([r.top_p for r in requests], device=device),
        torch.tensor([r.min_p for r in requests], device=device),
    )


# -- the compiled decode step -------------------------------------------------------


def _decode_step(
    model: Transformer,
    tokens: Tensor,
    view: StaticDecodeView,
    moe_forward: MoeFn,
    attend: AttentionFn,
) -> tuple[Tensor, Tensor]:
    """A one-token step as `Engine(compile=True)` compiles it: logits `[B, 1, V]`, and
    each lane's greedy token `[B]` (`reference.sampling.greedy_tokens`: -1 where the
    row's max is not finite).

    Taken inside the graph, the greedy tokens save the few separate small kernels that
    sampling would launch after it, each slowed by caches the step's weights evicted.
    """
    logits = model(tokens, view, last=-1, moe_forward=moe_forward, attend=attend)
    return logits, greedy_tokens(logits[:, 0])


@functools.cache
def _compiled_decode_step(cpp_wrapper: bool) -> DecodeFn:
    """`torch.compile(_decode_step)`, made once per process rather than on every
    `generate` call. (Compiled graphs are cached by torch.)"""
    return torch.compile(_decode_step, options={"cpp_wrapper": cpp_wrapper})


def _compile_decode(model: Transformer, max_seq_len: int) -> DecodeFn:
    """The compiled decode step for `model`, traced on its first call."""
    # Growing the RoPE table later would change the graph's inputs and compile again.
    model.rope_table(max_seq_len)
    # On CPU the graph's wrapper launches each kernel from Python by default; generated
    # as C++ it costs less per step (docs/benchmarks.md). On CUDA: the default.
    return _compiled_decode_step(cpp_wrapper=model.device.type == "cpu")


# -- sessions and generate ------------------------------------------------------------


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
        self.store = make_store(model, self.components, cache, batch_size, max_seq_len, block_size)
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
        parts = self.components
        logits: Tensor = self.model(
            tokens, view, moe_forward=parts.moe_forward, attend=parts.attention
        )
        self.length += t
        return logits


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
    num_blocks: int | None = None,
    token_budget: int | None = None,
    components: Components | None = None,
    compile: bool = False,
) -> list[list[int]]:
    """The new tokens of each prompt (greedy at temperature 0), all prompts in one batch.

    Generation stops after `max_new_tokens` or at a stop token (kept in the output);
    `stop_ids` defaults to the model's eos ids, `()` disables it. With temperature > 0
    draws come from `generator`, else from a new one seeded with `seed`, else from
    torch's global generator. `compile`, `num_blocks`, `token_budget`: see `Engine`.
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
        num_blocks=num_blocks,
        token_budget=token_budget,
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
