"""Continuous against static batching on one arrival trace, in the reference engine.

Sixteen requests of mixed prompt lengths (4 to 40 tokens) and token budgets (4 to 48)
arrive one every two engine steps. Both servers run the tiny model of bench_engine
with at most 4 requests at a time, greedy, no stop token:

- continuous: one `Engine` over the paged cache; a request joins at the first step
  after it arrives, and leaves the batch the step it is done;
- static: batches of 4 in arrival order; a batch starts when its last request has
  arrived and the previous batch is done, runs until its longest request is done
  (the others' rows keep computing), and answers all four at the end. It runs on the
  same paged cache and scheduler, one engine per batch, so only the policy differs.

Throughput: useful tokens over the wall time of the whole trace, both servers timed
side by side in interleaved rounds. Latency: steps from a request's arrival to its
answer (a step is one forward pass), counted, so it does not depend on the machine.
Both servers' tokens are checked equal to generating each request alone.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from benchmarks.bench_engine import TINY, _models, _prompt, _sync
from benchmarks.common import Section, fmt_ratio, single_threaded
from grader.judge.timing import compare
from reference.engine import Engine, generate
from reference.model import Transformer

LANES = 4
ARRIVAL_EVERY = 2  # steps between arrivals
# (prompt length, new tokens), in arrival order
TRACE = [
    (12, 48), (4, 6), (30, 10), (8, 40), (40, 4), (16, 24), (6, 8), (20, 36),
    (10, 12), (35, 6), (5, 44), (18, 16), (25, 8), (7, 30), (14, 4), (9, 20),
]  # fmt: skip

Served = tuple[list[list[int]], list[int]]  # each request's tokens, and its answer step


def continuous(model: Transformer, prompts: list[list[int]]) -> Served:
    longest = max(len(p) + n for p, (_, n) in zip(prompts, TRACE, strict=True))
    engine = Engine(model, max_batch=LANES, max_seq_len=longest, cache="paged")
    ids: list[int] = []
    done_at: dict[int, int] = {}
    step = 0
    while len(ids) < len(TRACE) or engine.has_work:
        while len(ids) < len(TRACE) and len(ids) * ARRIVAL_EVERY <= step:
            ids.append(engine.add_request(prompts[len(ids)], TRACE[len(ids)][1], stop_ids=()))
        engine.step()
        step += 1
        for i in ids:
            if i not in done_at and engine.requests[i].done:
                done_at[i] = step
    return [engine.output(i) for i in ids], [done_at[i] for i in ids]


def static(model: Transformer, prompts: list[list[int]]) -> Served:
    outputs: list[list[int]] = []
    answered: list[int] = []
    step = 0
    for first in range(0, len(TRACE), LANES):
        group = range(first, min(first + LANES, len(TRACE)))
        step = max(step, (group[-1]) * ARRIVAL_EVERY)  # wait for the last arrival
        budget = max(TRACE[i][1] for i in group)
        longest = max(len(prompts[i]) for i in group) + budget
        engine = Engine(model, max_batch=LANES, max_seq_len=longest, cache="paged")
        ids = [engine.add_request(prompts[i], budget, stop_ids=()) for i in group]
        while engine.has_work:
            engine.step()
            step += 1
        outputs += [engine.output(r)[: TRACE[i][1]] for r, i in zip(ids, group, strict=True)]
        answered += [step] * len(group)
    return outputs, answered


def run(device: str) -> Section:
    return single_threaded(device, _run)


def _run(device: str) -> Section:
    section = Section(
        name="batching",
        title="Continuous against static batching on one arrival trace",
        headers=["server", "throughput", "mean latency", "p90 latency"],
    )
    _, model = _models(TINY, device)
    prompts = [_prompt(n, TINY["vocab_size"], seed=100 + i) for i, (n, _) in enumerate(TRACE)]
    alone = [
        generate(model, [p], n, stop_ids=())[0] for p, (_, n) in zip(prompts, TRACE, strict=True)
    ]
    served = {"continuous": continuous(model, prompts), "static": static(model, prompts)}
    for name, (tokens, _) in served.items():
        if tokens != alone:
            raise AssertionError(f"{name} batching changed the greedy tokens")
    runs: dict[str, Callable[[], Served]] = {
        "continuous": lambda: continuous(model, prompts),
        "static": lambda: static(model, prompts),
    }
    result = compare(
        runs["static"], runs["continuous"], sync=_sync(device), rounds=5, min_rounds=3, max_s=60.0
    )
    useful = sum(n for _, n in TRACE)
    seconds = {"continuous": result.b_s, "static": result.a_s}
    for name, (_, answered) in served.items():
        waits = [a - i * ARRIVAL_EVERY for i, a in enumerate(answered)]
        section.add(
            f"{name}, {LANES} at a time",
            f"{useful / seconds[name]:.0f} tok/s",
            f"{statistics.mean(waits):.1f} steps",
            f"{statistics.quantiles(waits, n=10)[-1]:.0f} steps",
        )
    section.add("continuous over static", fmt_ratio(result.ratio), "", "")
    section.notes += [
        f"Trace: {len(TRACE)} requests, one every {ARRIVAL_EVERY} steps, prompts 4-40 "
        f"tokens, 4-48 new tokens ({useful} in all). tiny: hidden 256, 4 layers, 8 heads, "
        "2 KV heads, vocab 1000; float32, random weights. Both servers run "
        '`Engine(cache="paged")` with the reference scheduler, so only the policy '
        "differs: continuous is one engine for the whole trace; static is one engine per "
        "batch of 4, every row generating to the batch's longest budget.",
        "Throughput ratio: static time over continuous time for the whole trace, median "
        "of paired interleaved rounds (waiting for arrivals costs neither server time). "
        "Latency: steps from arrival to answer.",
    ]
    return section
