"""reference.scheduler: the worked example, and vLLM v1's invariants over random traces."""

from __future__ import annotations

import math

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from reference.scheduler import ScheduledStep, Scheduler


def run_worked_example() -> list[tuple[dict[int, int], list[int], int]]:
    s = Scheduler(token_budget=8, num_blocks=4, block_size=4, max_running=4)
    s.add_request(0, 6, 10)
    s.add_request(1, 5, 10)
    out = []
    for _ in range(5):
        step = s.schedule()
        s.update(step)
        out.append((step.scheduled, step.preempted, s.free_blocks))
    return out


def test_the_docstrings_worked_example() -> None:
    assert run_worked_example() == [
        ({0: 6, 1: 2}, [], 1),
        ({0: 1, 1: 3}, [], 0),
        ({0: 1, 1: 1}, [], 0),
        ({0: 1}, [1], 1),  # B preempted; nothing admitted in the same step
        ({0: 1}, [], 1),  # B's 7 tokens need 2 blocks, 1 is free: it waits
    ]


def test_requests_that_can_never_fit_are_refused_up_front() -> None:
    s = Scheduler(token_budget=8, num_blocks=2, block_size=4, max_running=2)
    s.add_request(0, 4, 5)  # 8 tokens at its longest: exactly 2 blocks
    with pytest.raises(ValueError, match="never fit"):
        s.add_request(1, 4, 6)
    with pytest.raises(ValueError, match="already queued"):
        s.add_request(0, 1, 1)


def test_a_stop_token_finishes_a_request_early_and_frees_its_blocks() -> None:
    s = Scheduler(token_budget=16, num_blocks=4, block_size=4, max_running=2)
    s.add_request(7, 5, 5)
    step = s.schedule()
    assert s.update(step, stopped=[7]) == [7]
    assert s.free_blocks == 4 and not s.has_work


def test_a_preempted_request_is_not_readmitted_in_the_same_step() -> None:
    s = Scheduler(token_budget=5, num_blocks=3, block_size=4, max_running=4)
    s.add_request(0, 4, 4)  # A: one block
    s.add_request(1, 8, 2)  # B: prefilled 1 token at a time at first
    first = s.schedule()
    assert first.scheduled == {0: 4, 1: 1}
    s.update(first)
    # A's 5th token takes the last block; B's next chunk needs another and B is the
    # newest: B is preempted. Its freed block and the 4 tokens of budget left would take
    # B's first chunk again, but nothing is admitted in a step that preempted.
    second = s.schedule()
    assert second.preempted == [1] and second.scheduled == {0: 1}
    assert s.free_blocks == 1 and [r.id for r in s.waiting] == [1]
    s.update(second)
    third = s.schedule()
    assert third.scheduled == {0: 1, 1: 4}  # B recomputes from its first token


@st.composite
def traces(draw: st.DrawFn) -> tuple[dict[str, int], list[tuple[int, int, int]]]:
    config = {
        "token_budget": draw(st.integers(1, 24)),
        "num_blocks": draw(st.integers(2, 12)),
        "block_size": draw(st.integers(1, 8)),
        "max_running": draw(st.integers(1, 5)),
    }
    capacity = config["num_blocks"] * config["block_size"]
    requests = []
    for _ in range(draw(st.integers(1, 8))):
        prompt = draw(st.integers(1, max(1, capacity // 2)))
        new = draw(st.integers(1, max(1, capacity - prompt + 1)))
        arrival = draw(st.integers(0, 6))
        requests.append((prompt, new, arrival))
    return config, requests


@settings(max_examples=300, deadline=None, derandomize=True)
@given(traces())
def test_invariants_hold_and_every_request_finishes(
    trace: tuple[dict[str, int], list[tuple[int, int, int]]],
) -> None:
    config, requests = trace
    s = Scheduler(**config)
    bs, total = config["block_size"], config["num_blocks"]
    emitted = {i: 0 for i in range(len(requests))}
    preemptions: list[int] = []
    finished: set[int] = set()
    for t in range(2000):
        for i, (prompt, new, arrival) in enumerate(requests):
            if arrival == t:
                s.add_request(i, prompt, new)
        if t > max(a for _, _, a in requests) and not s.has_work:
            break
        waiting_before = [r.id for r in s.waiting]
        running_before = {r.id for r in s.running}
        step: ScheduledStep = s.schedule()
        # the token budget and the running cap hold
        assert sum(step.scheduled.values()) <= config["token_budget"]
        assert all(n >= 1 for n in step.scheduled.values())
        assert len(s.running) <= config["max_running"]
        # blocks: what the running requests hold, never more than the pool
        held = sum(r.blocks for r in s.running)
        assert held + s.free_blocks == total and s.free_blocks >= 0
        for r in s.running:
            assert r.blocks >= math.ceil((r.num_computed + step.scheduled.get(r.id, 0)) / bs)
        # nothing is admitted in a step that preempted; admission is first come first served
        admitted = [i for i in step.scheduled if i in waiting_before]
        if step.preempted:
            assert set(step.scheduled) <= running_before  # a preempted one waits a step too
            # back to the front of the queue, in the order they were admitted
            front = [r.id for r in s.waiting][: len(step.preempted)]
            assert front == step.preempted[::-1]
            preemptions.append(len(step.preempted))
        assert admitted == waiting_before[: len(admitted)]
        for i, n in step.scheduled.items():  # a token comes out once all known are computed
            request = s._all[i]
            emitted[i] += request.num_computed + n == request.num_tokens
        finished.update(s.update(step))
    else:
        pytest.fail("the trace did not finish in 2000 steps")
    assert finished == set(range(len(requests)))
    assert emitted == {i: new for i, (_, new, _) in enumerate(requests)}
    event(f"preempting steps: {min(len(preemptions), 3)}")
