"""The prompt's worked examples. Run with `drill test`."""

from __future__ import annotations

import pytest
from solution import Scheduler


def run(s: Scheduler, steps: int) -> list[tuple[dict[int, int], list[int], int, list[int]]]:
    """(scheduled, preempted, free_blocks after schedule, finished) of each step."""
    out = []
    for _ in range(steps):
        step = s.schedule()
        free = s.free_blocks
        out.append((dict(step.scheduled), list(step.preempted), free, s.update(step)))
    return out


def test_worked_example_1_chunked_prefill_then_preempting_the_newest() -> None:
    s = Scheduler(token_budget=8, num_blocks=4, block_size=4, max_running=4)
    s.add_request(0, 6, 10)
    s.add_request(1, 5, 10)
    assert run(s, 5) == [
        ({0: 6, 1: 2}, [], 1, []),
        ({0: 1, 1: 3}, [], 0, []),
        ({0: 1, 1: 1}, [], 0, []),
        ({0: 1}, [1], 1, []),  # nothing admitted in a step that preempted
        ({0: 1}, [], 1, []),  # 1 needs 2 blocks to come back, 1 is free
    ]


def test_worked_example_2_two_preempted_in_one_step_and_a_blocking_head() -> None:
    s = Scheduler(token_budget=16, num_blocks=4, block_size=2, max_running=4)
    for request_id, prompt_len in enumerate([2, 2, 2, 2, 1]):
        s.add_request(request_id, prompt_len, 5)
    assert run(s, 6) == [
        ({0: 2, 1: 2, 2: 2, 3: 2}, [], 0, []),
        ({0: 1, 1: 1}, [3, 2], 0, []),
        ({0: 1, 1: 1}, [], 0, []),
        ({0: 1}, [1], 1, []),
        ({0: 1}, [], 1, [0]),
        ({1: 5}, [], 1, []),  # 1 recomputes all 5 tokens it knows
    ]
    assert s.free_blocks == 1 and s.has_work


def test_the_request_being_scheduled_can_be_the_one_preempted() -> None:
    s = Scheduler(token_budget=16, num_blocks=3, block_size=2, max_running=4)
    s.add_request(0, 3, 3)
    s.add_request(1, 2, 3)
    assert run(s, 2) == [({0: 3, 1: 2}, [], 0, []), ({0: 1}, [1], 1, [])]


def test_add_request_refuses_what_can_never_fit() -> None:
    s = Scheduler(token_budget=8, num_blocks=2, block_size=4, max_running=2)
    s.add_request(0, 4, 5)  # at most 8 tokens computed: exactly 2 blocks
    with pytest.raises(ValueError):
        s.add_request(1, 4, 6)
    with pytest.raises(ValueError):
        s.add_request(0, 1, 1)  # 0 is waiting
