"""Oracles: seeded random traces, replayed in lockstep against `reference.scheduler`.

`reference.scheduler.Scheduler` is the project's own vLLM v1 scheduler on token counts:
the same policy as the file under test (running first, newest preempted and recomputed
from the front of the queue, no admission in a step that preempted, FCFS admission with
chunked prefill, the head of the queue blocking the rest). It knows no token ids: a
request that produced its end-of-sequence token is passed to it as `stopped`.

Every step of a replay is also checked against invariants that need no peer: the token
budget, the block accounting, no request both running and waiting, FCFS order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import solution as sol

from reference.scheduler import Scheduler as RefScheduler

EOS = 0
VOCAB = 12  # token ids 0..11: a sampled token is the EOS one time in 12


@dataclass(frozen=True)
class Config:
    token_budget: int
    num_blocks: int
    block_size: int
    max_running: int

    def kwargs(self) -> dict[str, int]:
        return {
            "token_budget": self.token_budget,
            "num_blocks": self.num_blocks,
            "block_size": self.block_size,
            "max_running": self.max_running,
        }


@dataclass(frozen=True)
class Arrival:
    step: int  # added before this step (0-based)
    request_id: int
    prompt_len: int
    max_new_tokens: int
    eos: bool  # whether the request stops at EOS


@dataclass
class Replay:
    config: Config
    arrivals: list[Arrival]
    steps: list[tuple[dict[int, int], list[int]]] = field(default_factory=list)
    outputs: dict[int, list[int]] = field(default_factory=dict)


def blocks_for(tokens: int, block_size: int) -> int:
    return -(-tokens // block_size)


def random_trace(seed: int) -> tuple[Config, list[Arrival]]:
    """A small pool (blocks run out, requests get preempted) and requests that fit it."""
    rng = random.Random(seed)
    config = Config(
        token_budget=rng.choice([3, 4, 6, 8, 12, 16]),
        num_blocks=rng.choice([3, 4, 5, 6, 8]),
        block_size=rng.choice([1, 2, 2, 3, 4]),
        max_running=rng.choice([2, 3, 4, 6]),
    )
    capacity = config.num_blocks * config.block_size
    arrivals = []
    for request_id in range(rng.randint(3, 9)):
        prompt = rng.randint(1, min(capacity, rng.choice([4, 8, 16])))
        most = capacity - prompt + 1  # prompt + max_new - 1 tokens must fit the pool
        new = rng.choice([most, max(1, most // 2), min(most, 3), 1])
        arrivals.append(Arrival(rng.randint(0, 8), request_id, prompt, new, rng.random() < 0.5))
    arrivals.sort(key=lambda a: (a.step, a.request_id))
    return config, arrivals


def prompt_ids(request_id: int, prompt_len: int) -> list[int]:
    return [100 + (request_id * 7 + j) % 50 for j in range(prompt_len)]


def sampled_token(seed: int, request_id: int, position: int) -> int:
    """The token 'sampled' for a request at a position: a pure function, so a recomputed
    request samples what it would have sampled the first time."""
    return random.Random(seed * 1_000_003 + request_id * 1009 + position).randrange(VOCAB)


def replay(seed: int, max_steps: int = 300) -> Replay:
    """Run a random trace to the end on the solution and the reference in lockstep.
    Fails (AssertionError) at the first step where they differ or an invariant breaks."""
    config, arrivals = random_trace(seed)
    s = sol.Scheduler(**config.kwargs())
    ref = RefScheduler(**config.kwargs())
    out = Replay(config, arrivals)
    handles: dict[int, Any] = {}
    eos_of: dict[int, bool] = {}
    pending = list(arrivals)
    arrival_rank: dict[int, int] = {}
    ever_ran: set[int] = set()
    for k in range(max_steps):
        while pending and pending[0].step <= k:
            a = pending.pop(0)
            r = sol.Request(
                a.request_id,
                prompt_ids(a.request_id, a.prompt_len),
                a.max_new_tokens,
                EOS if a.eos else None,
            )
            s.add(r)
            ref.add_request(a.request_id, a.prompt_len, a.max_new_tokens)
            handles[a.request_id] = r
            eos_of[a.request_id] = a.eos
            arrival_rank[a.request_id] = len(arrival_rank)
        if not pending and not ref.has_work:
            break
        where = f"trace seed {seed} ({config}), step {k + 1}"
        history = f"; steps so far: {out.steps[-4:]}" if out.steps else ""
        plan = s.step()
        scheduled = plan.num_scheduled_tokens
        preempted = plan.preempted_ids
        want = ref.schedule()
        ever_ran |= set(scheduled) | set(preempted)
        check_step_invariants(s, config, scheduled, where, history, arrival_rank, ever_ran)
        assert list(scheduled.items()) == list(want.scheduled.items()), (
            f"{where}: the step must schedule {want.scheduled} (request id -> tokens, in "
            f"that order), got {scheduled}{history}"
        )
        assert preempted == want.preempted, (
            f"{where}: the step must preempt {want.preempted}, got {preempted}{history}"
        )
        assert s.num_free_blocks == ref.free_blocks, (
            f"{where}: after step() {ref.free_blocks} blocks must be free, "
            f"got {s.num_free_blocks}{history}"
        )
        out.steps.append((dict(scheduled), list(preempted)))
        # The engine samples a token for every scheduled request; a partial prefill's is
        # discarded. Which requests produce, and which of those stop at EOS:
        sampled: dict[int, int] = {}
        stopped: list[int] = []
        for request_id, n in scheduled.items():
            state = ref._all[request_id]
            position = state.generated
            sampled[request_id] = sampled_token(seed, request_id, position)
            produces = state.num_computed + n == state.num_tokens
            if produces and eos_of[request_id] and sampled[request_id] == EOS:
                stopped.append(request_id)
        finished = s.update(plan, sampled)
        want_finished = ref.update(want, stopped)
        assert finished == want_finished, (
            f"{where}: update() must return {want_finished} (finished, in plan order), "
            f"got {finished}{history}"
        )
        assert s.num_free_blocks == ref.free_blocks, (
            f"{where}: after update() {ref.free_blocks} blocks must be free, "
            f"got {s.num_free_blocks}{history}"
        )
        assert s.running_ids() == [r.id for r in ref.running], (
            f"{where}: running (admission order) must be {[r.id for r in ref.running]}, "
            f"got {s.running_ids()}{history}"
        )
        assert s.waiting_ids() == [r.id for r in ref.waiting], (
            f"{where}: the waiting queue must be {[r.id for r in ref.waiting]} (front first), "
            f"got {s.waiting_ids()}{history}"
        )
        for request_id in finished:
            out.outputs[request_id] = handles[request_id].output_token_ids
    else:
        raise AssertionError(f"trace seed {seed} ({config}) did not finish in {max_steps} steps")
    return out


def check_step_invariants(
    s: Any,
    config: Config,
    scheduled: dict[int, int],
    where: str,
    history: str,
    arrival_rank: dict[int, int],
    ever_ran: set[int],
) -> None:
    """What holds right after every step(), whatever the trace."""
    total = sum(scheduled.values())
    assert total <= config.token_budget, (
        f"{where}: the step schedules {total} tokens {scheduled}, over the token budget "
        f"of {config.token_budget}{history}"
    )
    assert all(n >= 1 for n in scheduled.values()), (
        f"{where}: every scheduled request must compute at least 1 token, got {scheduled}"
    )
    running, waiting = s.running_ids(), s.waiting_ids()
    both = set(running) & set(waiting)
    assert not both, f"{where}: requests {sorted(both)} are both running and waiting{history}"
    assert set(scheduled) <= set(running), (
        f"{where}: scheduled requests {sorted(set(scheduled) - set(running))} are not running"
    )
    assert len(running) <= config.max_running, (
        f"{where}: {len(running)} requests running, max_running is {config.max_running}"
    )
    held = 0
    for request_id in running:
        computed = s.num_computed_tokens(request_id) + scheduled.get(request_id, 0)
        blocks = s.blocks.num_blocks_of(request_id)
        need = blocks_for(computed, config.block_size)
        assert blocks == need, (
            f"{where}: running request {request_id} will have {computed} tokens cached after "
            f"this step, so it must hold ceil({computed} / {config.block_size}) = {need} "
            f"blocks, it holds {blocks}{history}"
        )
        held += blocks
    for request_id in waiting:
        assert s.blocks.num_blocks_of(request_id) == 0, (
            f"{where}: waiting request {request_id} still holds blocks{history}"
        )
        assert s.num_computed_tokens(request_id) == 0, (
            f"{where}: waiting request {request_id} claims "
            f"{s.num_computed_tokens(request_id)} computed tokens: a waiting request has no "
            f"KV cache{history}"
        )
    assert s.num_free_blocks == config.num_blocks - held, (
        f"{where}: {held} blocks are held by running requests, so "
        f"{config.num_blocks - held} must be free, got {s.num_free_blocks}{history}"
    )
    # FCFS: preempted requests at the front, then those that never ran, in arrival order.
    fresh = sorted((i for i in waiting if i not in ever_ran), key=lambda i: arrival_rank[i])
    want = [i for i in waiting if i in ever_ran] + fresh
    assert waiting == want, (
        f"{where}: the waiting queue must hold preempted requests first, then the others in "
        f"arrival order: {want}, got {waiting}{history}"
    )
