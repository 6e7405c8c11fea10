"""vLLM's scheduling invariants over whole random traces, checked without a model.

Requests arrive over the first steps; the trace runs until every request has finished.
The suite keeps only what the steps themselves say (who was admitted, preempted,
finished; how many tokens each computed) and checks the rules on it: the budgets, block
accounting, admission order, who is preempted and where they go, and that every request
ends with exactly its tokens.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from driver import Step, make, read, show
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from strategies import Config, configs, sizes

MAX_STEPS = 400


@dataclass
class Tracked:
    prompt: int
    max_new: int
    known: int
    computed: int = 0
    generated: int = 0


@dataclass
class Trace:
    config: Config
    arrivals: list[tuple[int, int, int, int]]  # (step, id, prompt_len, max_new_tokens)
    steps: list[Step] = field(default_factory=list)
    stopped: list[list[int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    finished: dict[int, Tracked] = field(default_factory=dict)


@st.composite
def traces(draw: st.DrawFn) -> tuple[Config, list[tuple[int, int, int, int]], int]:
    config = draw(configs())
    arrivals = []
    for request_id in range(draw(st.integers(1, 8))):
        prompt, new = draw(sizes(config))
        arrivals.append((draw(st.integers(0, 6)), request_id, prompt, new))
    arrivals.sort()
    return config, arrivals, draw(st.integers(0, 2**16))


def replay(config: Config, arrivals: list[tuple[int, int, int, int]], seed: int) -> Trace:
    """Run the trace to the end; record in `problems` every rule a step breaks."""
    trace = Trace(config, arrivals)
    rng = random.Random(seed)  # which producing requests get a stop token (1 in 8)
    s = make(config)
    live: dict[int, Tracked] = {}
    waiting: list[int] = []  # front first, as the rules say it must be
    running: list[int] = []  # admission order
    bs = config["block_size"]
    for t in range(MAX_STEPS):
        for when, request_id, prompt, new in arrivals:
            if when == t:
                s.add_request(request_id, prompt, new)
                live[request_id] = Tracked(prompt, new, prompt)
                waiting.append(request_id)
        if t > arrivals[-1][0] and not live:
            break
        step = s.schedule()
        scheduled, preempted = read(step, f"step {t + 1}")
        tokens = dict(scheduled)
        problems = check_schedule(trace, t + 1, scheduled, preempted, running, waiting)
        if problems:
            trace.problems.extend(problems)
            return trace
        admitted = [i for i, _ in scheduled if i not in running]
        for i in preempted:
            running.remove(i)
            live[i].computed = 0
        waiting[:0] = preempted[::-1]  # to the front, in admission order
        for i in admitted:
            if i in waiting:
                waiting.remove(i)
            running.append(i)
        if not scheduled and (running or waiting):
            problems.append(
                f"step {t + 1} scheduled nothing while {running} ran and {waiting} waited: "
                "the oldest running request (preempting the others if it must) or, with none "
                "running, the head of the queue always fits, as add_request refused what "
                "could never fit the pool alone"
            )
        held = sum(math.ceil((live[i].computed + tokens.get(i, 0)) / bs) for i in running)
        free = s.free_blocks
        if free != config["num_blocks"] - held:
            problems.append(
                f"step {t + 1}: free_blocks after schedule() is {free}; the running requests "
                f"hold {held} of {config['num_blocks']} blocks (ceil((computed + scheduled) / "
                f"block_size) each), so {config['num_blocks'] - held} are free"
            )
        producing = [i for i, n in scheduled if live[i].computed + n == live[i].known]
        stopped = [i for i in producing if rng.random() < 0.125]
        finished = s.update(step, stopped=stopped)
        want_finished = []
        for i, n in scheduled:
            r = live[i]
            r.computed += n
            if r.computed == r.known:
                r.known += 1
                r.generated += 1
                if r.generated == r.max_new or i in stopped:
                    want_finished.append(i)
        if finished != want_finished:
            problems.append(
                f"step {t + 1}: update(stopped={stopped}) after {show(scheduled)} must "
                f"return {want_finished}, got {finished}"
            )
        for i in want_finished:
            running.remove(i)
            trace.finished[i] = live.pop(i)
        trace.steps.append(Step(scheduled, preempted, free, finished, s.free_blocks))
        trace.stopped.append(stopped)
        if problems:
            trace.problems.extend(problems)
            return trace  # later steps would only repeat the damage
    else:
        trace.problems.append(f"not every request finished within {MAX_STEPS} steps")
    return trace


def check_schedule(
    trace: Trace,
    k: int,
    scheduled: list[tuple[int, int]],
    preempted: list[int],
    running: list[int],
    waiting: list[int],
) -> list[str]:
    config = trace.config
    where = f"step {k}: {show(scheduled)} preempted {preempted}, with running {running}"
    where += f" (admission order) and waiting {waiting} (front first)"
    ids = [i for i, _ in scheduled] + preempted
    if not set(ids) <= set(running + waiting) or len(set(preempted)) != len(preempted):
        return [f"{where}: ids that are not running or waiting, or preempted twice"]
    out = []
    total = sum(n for _, n in scheduled)
    if total > config["token_budget"] or any(n < 1 for _, n in scheduled):
        out.append(f"{where}: {total} tokens; each must be >= 1, all <= token_budget")
    if preempted != running[::-1][: len(preempted)]:
        out.append(f"{where}: the preempted must be the newest running requests, newest first")
    if set(preempted) & {i for i, _ in scheduled}:
        out.append(f"{where}: a preempted request cannot also be scheduled")
    ran = [i for i, _ in scheduled if i in running]
    survivors = [i for i in running if i not in preempted]
    if ran != survivors[: len(ran)]:
        out.append(f"{where}: running requests go first, in admission order")
    admitted = [i for i, _ in scheduled if i not in running]
    if [i for i, _ in scheduled][: len(ran)] != ran:
        out.append(f"{where}: running requests are scheduled before any admission")
    if preempted and admitted:
        out.append(f"{where}: nothing may be admitted in a step that preempted")
    if admitted != waiting[: len(admitted)]:
        out.append(f"{where}: admission is first come first served from the queue's front")
    if len(survivors) + len(admitted) > config["max_running"]:
        out.append(f"{where}: more than max_running {config['max_running']} running")
    return out


def check(trace: Trace) -> None:
    assert not trace.problems, (
        "; ".join(trace.problems[:3]) + f"; Scheduler({trace.config}), arrivals (step, id, "
        f"prompt_len, max_new_tokens) {trace.arrivals}"
    )


# No shrink phase: shrinking replays failing traces many times through the worker;
# every message names the configuration, the arrivals and the step instead.
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]


@settings(max_examples=30, phases=NO_SHRINK)
@given(traces())
def test_budgets_order_and_block_accounting_hold_on_every_step(
    trace: tuple[Config, list[tuple[int, int, int, int]], int],
) -> None:
    check(replay(*trace))


@settings(max_examples=20, phases=NO_SHRINK)
@given(traces())
def test_every_request_finishes_with_exactly_its_tokens(
    trace: tuple[Config, list[tuple[int, int, int, int]], int],
) -> None:
    t = replay(*trace)
    check(t)
    for _, request_id, prompt, new in t.arrivals:
        r = t.finished.get(request_id)
        assert r is not None, f"request {request_id} never finished, {t.config}"
        stopped = any(request_id in s for s in t.stopped)
        assert r.generated == new or (stopped and r.generated < new), (
            f"Scheduler({t.config}): request {request_id} (prompt {prompt}, max_new_tokens "
            f"{new}) finished after producing {r.generated} tokens"
        )
