"""reference.engine: greedy generation against transformers' `generate`, continuous
batching against running requests one by one, streaming, stop conditions, sampling,
and components swapped for slow obvious implementations.

transformers generates each prompt on its own (batch 1, no padding), so a prompt's
tokens do not depend on how the reference batches it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from transformers import MistralConfig, MistralForCausalLM, MixtralConfig, MixtralForCausalLM

from reference.components import Components
from reference.engine import Engine, generate
from reference.kv_layout import CacheKind
from reference.model import Transformer, from_state_dict
from reference.sampling import sample
from reference.scheduler import ScheduledStep, Scheduler

VOCAB = 97
BASE: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": VOCAB,
    "attn_implementation": "eager",
    # transformers' default (0.02) leaves attention's contribution too small to move
    # greedy choices; larger weights make every mask and cache bug visible in the tokens.
    "initializer_range": 0.2,
}
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "mistral-window5": ("mistral", {"sliding_window": 5}),
    "mistral-no-window": ("mistral", {"sliding_window": None, "num_key_value_heads": 1}),
    "mixtral-8x-top2-window4": (
        "mixtral",
        {"num_local_experts": 8, "num_experts_per_tok": 2, "sliding_window": 4},
    ),
}
PROMPT_LENGTHS = [1, 4, 9, 13]  # around and past the windows


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny matmuls run faster on one thread, and spare a shared machine's other cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_MODELS: dict[str, tuple[Any, Transformer]] = {}


def models(name: str) -> tuple[Any, Transformer]:
    """(transformers model, reference model) on the same random weights, built once."""
    if name not in _MODELS:
        arch, overrides = CONFIGS[name]
        torch.manual_seed(0)
        kwargs = {**BASE, **overrides}
        hf: Any = (
            MixtralForCausalLM(MixtralConfig(**kwargs))
            if arch == "mixtral"
            else MistralForCausalLM(MistralConfig(**kwargs))
        )
        hf.eval()
        _MODELS[name] = hf, from_state_dict(hf.config.to_dict(), hf.state_dict())
    return _MODELS[name]


def prompts(lengths: Sequence[int], seed: int = 1) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (n,), generator=g).tolist() for n in lengths]


def hf_generate(hf: Any, prompt: list[int], new: int, **kwargs: Any) -> list[int]:
    with torch.no_grad():
        out = hf.generate(
            torch.tensor([prompt]), max_new_tokens=new, do_sample=False, pad_token_id=0, **kwargs
        )
    tokens: list[int] = out[0, len(prompt) :].tolist()
    return tokens


# -- greedy generation against transformers --------------------------------------------


@pytest.mark.parametrize(
    ("name", "cache"),
    [
        ("mistral-window5", "auto"),
        ("mistral-window5", "contiguous"),
        ("mistral-window5", "paged"),
        ("mistral-no-window", "auto"),
        ("mixtral-8x-top2-window4", "auto"),
        ("mixtral-8x-top2-window4", "paged"),
    ],
)
def test_greedy_batch_of_mixed_lengths_matches_transformers_generate(
    name: str, cache: CacheKind
) -> None:
    hf, model = models(name)
    batch = prompts(PROMPT_LENGTHS)
    got = generate(model, batch, 10, cache=cache)
    for prompt, tokens in zip(batch, got, strict=True):
        want = hf_generate(hf, prompt, 10)
        assert tokens == want, f"{name}/{cache}, prompt of {len(prompt)}: {tokens} != {want}"


def test_rolling_cache_generates_past_max_seq_len() -> None:
    """A rolling buffer holds W tokens, so the sequence may outgrow `max_seq_len`."""
    hf, model = models("mistral-window5")
    (prompt,) = prompts([6], seed=4)
    engine = Engine(model, max_batch=1, max_seq_len=8, cache="rolling")
    rid = engine.add_request(prompt, 20, stop_ids=())
    engine.run()
    assert engine.output(rid) == hf_generate(hf, prompt, 20, eos_token_id=None)


def test_stop_token_ends_the_request_and_is_kept() -> None:
    hf, model = models("mistral-window5")
    (prompt,) = prompts([7], seed=5)
    free = generate(model, [prompt], 12, stop_ids=())[0]
    # The first position whose token has not appeared before: stopping there is unambiguous.
    i = next(i for i in range(2, 12) if free[i] not in free[:i])
    got = generate(model, [prompt], 12, stop_ids=[free[i]])[0]
    assert got == free[: i + 1], f"expected to stop after {free[i]} at index {i}, got {got}"
    assert got == hf_generate(hf, prompt, 12, eos_token_id=free[i])


def test_zero_new_tokens_and_empty_prompt() -> None:
    _, model = models("mistral-window5")
    assert generate(model, prompts([3, 5]), 0) == [[], []]
    assert generate(model, [], 4) == []
    with pytest.raises(ValueError, match="at least one token"):
        generate(model, [[]], 4)


@pytest.mark.parametrize(
    "bad", [{"temperature": -0.5}, {"top_k": -1}, {"top_p": 1.5}, {"min_p": float("nan")}]
)
def test_invalid_sampling_parameters_are_rejected_when_the_request_is_added(
    bad: dict[str, Any],
) -> None:
    _, model = models("mistral-window5")
    engine = Engine(model, max_batch=1)
    with pytest.raises(ValueError, match=next(iter(bad))):
        engine.add_request([1, 2, 3], 4, **bad)
    assert not engine.has_work


def test_requests_that_cannot_fit_are_rejected_up_front() -> None:
    _, model = models("mistral-no-window")
    engine = Engine(model, max_batch=2, max_seq_len=10, cache="contiguous")
    with pytest.raises(ValueError, match="max_seq_len=10"):
        engine.add_request(list(range(8)), 4)  # positions 0..10 would be fed
    engine.add_request(list(range(8)), 3)  # positions 0..9: fits
    paged = Engine(model, max_batch=2, max_seq_len=64, cache="paged", block_size=4, num_blocks=3)
    with pytest.raises(ValueError, match="blocks"):
        paged.add_request(list(range(10)), 4)  # 13 tokens: 4 blocks of 4


# -- continuous batching, streaming ------------------------------------------------------


def run_staggered(engine: Engine, batch: list[list[int]], budgets: list[int]) -> list[list[int]]:
    """Requests join at different steps: two at once, two after 3 steps, the rest after 5."""
    ids = [engine.add_request(p, n) for p, n in zip(batch[:2], budgets[:2], strict=True)]
    for _ in range(3):
        engine.step()
    ids += [engine.add_request(p, n) for p, n in zip(batch[2:4], budgets[2:4], strict=True)]
    for _ in range(2):
        engine.step()
    ids += [engine.add_request(p, n) for p, n in zip(batch[4:], budgets[4:], strict=True)]
    engine.run()
    return [engine.output(i) for i in ids]


@pytest.mark.parametrize(
    ("name", "cache", "chunk"),
    [
        ("mistral-window5", "rolling", 512),
        ("mistral-window5", "paged", 512),
        ("mixtral-8x-top2-window4", "contiguous", 512),
        ("mixtral-8x-top2-window4", "paged", 3),  # prompts fed 3 tokens at a time
    ],
)
def test_continuous_batching_gives_the_tokens_of_one_by_one(
    name: str, cache: CacheKind, chunk: int
) -> None:
    _, model = models(name)
    batch = prompts([3, 11, 1, 7, 5, 9], seed=6)
    budgets = [9, 4, 12, 6, 8, 3]
    engine = Engine(model, max_batch=3, max_seq_len=32, cache=cache, prefill_chunk=chunk)
    got = run_staggered(engine, batch, budgets)
    want = [generate(model, [p], n)[0] for p, n in zip(batch, budgets, strict=True)]
    assert got == want


@pytest.mark.parametrize(("cache", "steps"), [("contiguous", 1), ("paged", 1), ("rolling", 6)])
def test_a_request_joining_a_running_batch_waits_for_its_prefill(
    cache: CacheKind, steps: int
) -> None:
    """Contiguous and paged caches prefill a newcomer's 6-token prompt in the step after
    it arrives; a rolling buffer feeds it one token per step beside the others."""
    _, model = models("mistral-window5")
    old, new = prompts([4, 6], seed=13)
    engine = Engine(model, max_batch=2, max_seq_len=40, cache=cache)
    engine.add_request(old, 20, stop_ids=())
    for _ in range(3):
        engine.step()
    rid = engine.add_request(new, 5, stop_ids=())
    taken = next(i for i in range(1, 10) if any(r == rid for r, _ in engine.step()))
    assert taken == steps, f"{cache}: first token after {taken} steps, expected {steps}"


def test_paged_engine_waits_for_free_blocks_and_stays_exact() -> None:
    """10 blocks of 4 slots: two long requests use them all, so the rest must wait."""
    _, model = models("mistral-window5")
    batch = prompts([13, 12, 2, 6, 4, 8], seed=7)
    budgets = [8, 8, 5, 7, 9, 4]
    engine = Engine(model, max_batch=4, max_seq_len=32, cache="paged", block_size=4, num_blocks=10)
    waited = False
    ids = [engine.add_request(p, n) for p, n in zip(batch, budgets, strict=True)]
    scheduler = engine.scheduler
    assert isinstance(scheduler, Scheduler)
    while engine.has_work:
        engine.step()
        waited |= bool(scheduler.waiting) and len(scheduler.running) < 4
    assert waited, "expected a request to wait for blocks while fewer than 4 ran"
    want = [generate(model, [p], n)[0] for p, n in zip(batch, budgets, strict=True)]
    assert [engine.output(i) for i in ids] == want


class RecordingScheduler(Scheduler):
    """The reference scheduler, keeping every step's plan: proof of what it decided."""

    def __init__(self, **config: int) -> None:
        super().__init__(**config)
        self.plans: list[ScheduledStep] = []

    def schedule(self) -> ScheduledStep:
        self.plans.append(super().schedule())
        return self.plans[-1]


@pytest.mark.parametrize("token_budget", [64, 5])
def test_paged_engine_preempts_the_newest_request_and_recomputes_it_exactly(
    token_budget: int,
) -> None:
    """8 blocks of 4 slots for three requests that grow to 5 blocks each: some must be
    preempted, and a preempted request's tokens are those it makes alone."""
    _, model = models("mistral-window5")
    batch = prompts([9, 7, 5], seed=21)
    engine = Engine(
        model, max_batch=3, max_seq_len=32, cache="paged", block_size=4, num_blocks=8,
        token_budget=token_budget, components=Components(scheduler=RecordingScheduler),
    )  # fmt: skip
    ids = [engine.add_request(p, 12, stop_ids=()) for p in batch]
    engine.run()
    scheduler = engine.scheduler
    assert isinstance(scheduler, RecordingScheduler)
    assert any(plan.preempted for plan in scheduler.plans)
    if token_budget == 5:  # a 9-token prompt in chunks of at most 5
        assert all(sum(plan.scheduled.values()) <= 5 for plan in scheduler.plans)
    want = [generate(model, [p], 12, stop_ids=())[0] for p in batch]
    assert [engine.output(i) for i in ids] == want


def test_streaming_callback_gets_every_token_in_order() -> None:
    _, model = models("mixtral-8x-top2-window4")
    batch = prompts([2, 8, 5], seed=8)
    streamed: dict[int, list[int]] = {0: [], 1: [], 2: []}
    events: list[tuple[int, int]] = []
    engine = Engine(model, max_batch=2)
    ids = [
        engine.add_request(p, 6, stop_ids=(), on_token=streamed[i].append)
        for i, p in enumerate(batch)
    ]
    while engine.has_work:
        events += engine.step()
    for i, rid in enumerate(ids):
        assert streamed[i] == engine.output(rid) and len(streamed[i]) == 6
        assert [t for r, t in events if r == rid] == streamed[i]


# -- sampling ----------------------------------------------------------------------------


def test_sampled_token_is_the_reference_samplers_draw() -> None:
    _, model = models("mistral-window5")
    (prompt,) = prompts([6], seed=9)
    got = generate(model, [prompt], 1, temperature=0.9, top_k=20, top_p=0.9, seed=7)[0]
    logits = model(torch.tensor([prompt]))[:, -1]
    want = sample(
        logits, temperature=0.9, top_k=20, top_p=0.9, generator=torch.Generator().manual_seed(7)
    )
    assert got == want.tolist()


def test_sampling_is_reproducible_with_a_seed() -> None:
    _, model = models("mistral-window5")
    batch = prompts([3, 6], seed=10)
    first = generate(model, batch, 12, temperature=1.0, seed=3, stop_ids=())
    assert generate(model, batch, 12, temperature=1.0, seed=3, stop_ids=()) == first
    assert generate(model, batch, 12, temperature=1.0, seed=4, stop_ids=()) != first


def test_greedy_request_is_unaffected_by_a_sampled_neighbour() -> None:
    _, model = models("mistral-window5")
    greedy, sampled = prompts([5, 7], seed=11)
    engine = Engine(model, max_batch=2, generator=torch.Generator().manual_seed(0))
    g = engine.add_request(greedy, 10, stop_ids=())
    engine.add_request(sampled, 10, temperature=1.2, top_p=0.8, stop_ids=())
    engine.run()
    assert engine.output(g) == generate(model, [greedy], 10, stop_ids=())[0]


# -- swapping components ------------------------------------------------------------------


class Counted:
    """Wraps a function and counts its calls: proof that the engine used it."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.fn(*args, **kwargs)


def argmax_sample(
    logits: torch.Tensor,
    temperature: float | torch.Tensor = 1.0,
    top_k: int | torch.Tensor = 0,
    top_p: float | torch.Tensor = 1.0,
    min_p: float | torch.Tensor = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    assert temperature == 0, "this stand-in only knows greedy"
    return torch.tensor([max(range(len(row)), key=row.__getitem__) for row in logits.tolist()])


def loop_mask(
    q_len: int,
    kv_len: int,
    window: int | None,
    offset: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    w = kv_len + q_len + offset if window is None else window
    rows = [[offset + i - w < j <= offset + i for j in range(kv_len)] for i in range(q_len)]
    return torch.tensor(rows, dtype=torch.bool, device=device).view(q_len, kv_len)


def loop_moe(
    x: torch.Tensor,
    router: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    w3: torch.Tensor,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    logits = x @ router.T
    out = torch.zeros_like(x)
    for t in range(x.shape[0]):
        probs = logits[t].float().softmax(-1)
        top = probs.topk(k)
        for weight, e in zip(
            (top.values / top.values.sum()).tolist(), top.indices.tolist(), strict=True
        ):
            out[t] += weight * (w2[e] @ (F.silu(w1[e] @ x[t]) * (w3[e] @ x[t])))
    return out, logits


def explicit_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    """Scores, mask, softmax, weighted sum, with the kv heads repeated: no fused kernel."""
    group = q.shape[2] // k.shape[2]
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, heads, len, hd]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scores = (q.float() @ k.float().transpose(-1, -2)) * (scale or q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~(mask if mask.dim() != 3 else mask[:, None]), -torch.inf)
    out = scores.softmax(-1) @ v.float()
    return out.to(v.dtype).transpose(1, 2)


class DictCache:
    """Contiguous cache contract, stored as {position: (k, v)} per layer and sequence."""

    def __init__(
        self, n_layers: int, batch: int, capacity: int, n_kv: int, hd: int, **_: Any
    ) -> None:
        self.tokens: list[list[dict[int, tuple[torch.Tensor, torch.Tensor]]]] = [
            [{} for _ in range(batch)] for _ in range(n_layers)
        ]
        self.shape = (n_kv, hd)

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, t = k_new.shape[:2]
        for b, start in enumerate(start_pos.tolist()):
            for i in range(t):
                self.tokens[layer][b][start + i] = (k_new[b, i], v_new[b, i])
        end = int(start_pos.max()) + t
        k = torch.zeros(batch, end, *self.shape, dtype=k_new.dtype)
        v = torch.zeros_like(k)
        for b in range(batch):
            for p in range(end):
                if p in self.tokens[layer][b]:
                    k[b, p], v[b, p] = self.tokens[layer][b][p]
        return k, v, start_pos + t


class ListRollingCache:
    """Rolling-buffer contract, as a Python list of the last W tokens per sequence."""

    def __init__(
        self, n_layers: int, batch: int, window: int, n_kv: int, hd: int, **_: Any
    ) -> None:
        self.window, self.shape = window, (n_kv, hd)
        self.kept: list[list[list[tuple[torch.Tensor, torch.Tensor]]]] = [
            [[] for _ in range(batch)] for _ in range(n_layers)
        ]

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, t = k_new.shape[:2]
        for b, start in enumerate(start_pos.tolist()):
            kept = self.kept[layer][b]
            if start == 0:
                kept.clear()  # a new sequence in this row
            kept += [(k_new[b, i], v_new[b, i]) for i in range(t)]
            del kept[: -self.window]
        width = min(int(start_pos.max()) + t, self.window)
        k = torch.zeros(batch, width, *self.shape, dtype=k_new.dtype)
        v = torch.zeros_like(k)
        for b in range(batch):
            for i, (kk, vv) in enumerate(self.kept[layer][b]):
                k[b, i], v[b, i] = kk, vv
        return k, v, torch.tensor([len(self.kept[layer][b]) for b in range(batch)])


class StackAllocator:
    """Allocator contract without sharing: a LIFO free list, so block ids differ from the
    reference's FIFO order."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.free_blocks = list(range(num_blocks))
        self.block_size = block_size
        self.tables: dict[int, list[int]] = {}
        self.lengths: dict[int, int] = {}

    def allocate(self, seq_id: int, token_ids: Sequence[int]) -> list[int]:
        self.tables[seq_id], self.lengths[seq_id] = [], 0
        self.append(seq_id, token_ids)
        return list(self.tables[seq_id])

    def append(self, seq_id: int, token_ids: Sequence[int]) -> list[tuple[int, int]]:
        self.lengths[seq_id] += len(token_ids)
        while len(self.tables[seq_id]) * self.block_size < self.lengths[seq_id]:
            self.tables[seq_id].append(self.free_blocks.pop())
        return []

    def free(self, seq_id: int) -> None:
        self.free_blocks += self.tables.pop(seq_id)
        del self.lengths[seq_id]

    def block_table(self, seq_id: int) -> list[int]:
        return list(self.tables[seq_id])

    def num_free_blocks(self) -> int:
        return len(self.free_blocks)


@pytest.mark.parametrize(
    ("part", "cache"),
    [
        ("sample", "auto"),
        ("sliding_window_mask", "contiguous"),
        ("moe_forward", "auto"),
        ("kv_cache", "contiguous"),
        ("rolling_kv_cache", "rolling"),
        ("block_allocator", "paged"),
        ("attention", "rolling"),
        ("attention", "paged"),
    ],
)
def test_a_swapped_component_gives_the_reference_tokens(part: str, cache: CacheKind) -> None:
    """The kind of check a kata's integration case runs: same engine, another part."""
    _, model = models("mixtral-8x-top2-window4")
    stand_in = {
        "sample": argmax_sample,
        "sliding_window_mask": loop_mask,
        "moe_forward": loop_moe,
        "kv_cache": DictCache,
        "rolling_kv_cache": ListRollingCache,
        "block_allocator": StackAllocator,
        "attention": explicit_attention,
    }[part]
    counted = Counted(stand_in)
    batch = prompts([2, 9, 6], seed=12)
    want = generate(model, batch, 8, cache=cache)
    got = generate(model, batch, 8, cache=cache, components=Components(**{part: counted}))
    assert counted.calls > 0, f"the engine never called the swapped {part}"
    assert got == want


# -- compiled decode steps -----------------------------------------------------------------


@pytest.mark.parametrize("cache", ["rolling", "contiguous"])
def test_compiled_decode_steps_give_the_eager_tokens(cache: CacheKind) -> None:
    """compile=True: requests join and leave, lanes sit free, windows wrap. A rolling
    buffer feeds joining prompts one token a step, so every step after the first runs
    the compiled graph; a contiguous cache prefills them eagerly, in steps of their own."""
    _, model = models("mistral-window5")
    batch = prompts([3, 11, 1, 7, 5, 9], seed=6)
    budgets = [9, 4, 12, 6, 8, 3]
    engine = Engine(model, max_batch=3, max_seq_len=32, cache=cache, compile=True)
    compiled, real_step = engine.compiled, engine.step
    assert compiled is not None
    counts = {"steps": 0, "compiled": 0}

    def counted_compiled(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        counts["compiled"] += 1
        return compiled(*args, **kwargs)

    def counted_step() -> list[tuple[int, int]]:
        counts["steps"] += 1
        return real_step()

    engine.compiled, engine.step = counted_compiled, counted_step  # type: ignore[method-assign]
    got = run_staggered(engine, batch, budgets)
    eager = Engine(model, max_batch=3, max_seq_len=32, cache=cache)
    assert got == run_staggered(eager, batch, budgets)
    if cache == "rolling":
        assert counts["compiled"] == counts["steps"] - 1 > 20
    else:
        assert counts["steps"] - 6 <= counts["compiled"] < counts["steps"]  # 6 prefills at most


def test_compiled_steps_sample_lanes_as_the_eager_engine_does() -> None:
    """A sampled lane beside a greedy one: the compiled step's argmax must not stand in
    for the sampler's draw (the sampled tokens follow the seeded generator)."""
    _, model = models("mistral-window5")
    greedy, sampled = prompts([5, 7], seed=11)

    def run(compile: bool) -> list[list[int]]:
        engine = Engine(
            model, max_batch=2, compile=compile, generator=torch.Generator().manual_seed(0)
        )
        ids = [
            engine.add_request(greedy, 10, stop_ids=()),
            engine.add_request(sampled, 10, temperature=1.5, stop_ids=()),
        ]
        engine.run()
        return [engine.output(i) for i in ids]

    assert run(compile=True) == run(compile=False)


def test_compiled_steps_call_a_swapped_in_sampler() -> None:
    _, model = models("mistral-window5")
    counted = Counted(argmax_sample)
    (prompt,) = prompts([4], seed=3)
    got = generate(
        model, [prompt], 8, stop_ids=(), compile=True, components=Components(sample=counted)
    )
    assert got == generate(model, [prompt], 8, stop_ids=())
    assert counted.calls == 8  # the prefill's token and every compiled step's


def test_compiled_greedy_step_leaves_a_non_finite_row_to_the_sampler() -> None:
    """The sampler refuses a row with no finite logit; the in-graph argmax must not
    quietly return a token for it."""
    hf, _ = models("mistral-window5")
    model = from_state_dict(hf.config.to_dict(), hf.state_dict())  # a copy to spoil
    engine = Engine(model, max_batch=1, compile=True)
    engine.add_request([1, 2, 3], 6, stop_ids=())
    engine.step()  # the eager prefill
    engine.step()  # a compiled step
    model.output.fill_(float("nan"))  # every later logit is NaN
    with pytest.raises(ValueError, match="no finite logit"):
        engine.step()


def test_compiled_engine_compiles_at_most_twice_for_new_shapes() -> None:
    """Each `generate` sizes its cache to the request: after the first shape, one
    graph with dynamic shapes serves the rest (not one compile, of seconds, each)."""
    from torch._dynamo.utils import counters

    _, model = models("mistral-no-window")
    (prompt,) = prompts([3], seed=2)
    before = counters["stats"]["unique_graphs"]
    for new in (5, 9, 13, 17):
        got = generate(model, [prompt], new, stop_ids=(), compile=True)
        assert got == generate(model, [prompt], new, stop_ids=())
    assert 1 <= counters["stats"]["unique_graphs"] - before <= 2


# -- CUDA -------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cache", ["auto", "contiguous", "paged"])
def test_generation_on_cuda_matches_transformers(cache: CacheKind) -> None:
    hf, _ = models("mixtral-8x-top2-window4")
    cuda = from_state_dict(hf.config.to_dict(), hf.state_dict(), device="cuda")
    batch = prompts(PROMPT_LENGTHS)
    got = generate(cuda, batch, 10, cache=cache, temperature=0.0)
    assert got == [hf_generate(hf, p, 10) for p in batch]
    sampled = generate(cuda, batch, 5, temperature=1.0, seed=1)
    assert all(len(s) <= 5 for s in sampled)
