"""update(), finishing, stop tokens, has_work, add_request's errors, ScheduledStep."""

from __future__ import annotations

import pytest
import solution as sol
from driver import expect, make, one_step

SMALL = {"token_budget": 8, "num_blocks": 2, "block_size": 4, "max_running": 2}
ROOMY = {"token_budget": 16, "num_blocks": 12, "block_size": 2, "max_running": 4}


def test_a_request_finishes_after_max_new_tokens_and_gives_its_blocks_back() -> None:
    s = make(ROOMY, [(0, 3, 3)])
    steps = expect(
        s,
        [({0: 3}, [], 10, []), ({0: 1}, [], 10, []), ({0: 1}, [], 9, [0])],
        "prompt 3, max_new_tokens 3 (a token at each of the 3 steps)",
    )
    assert steps[-1].free_after == 12, (
        f"a finished request gives back its 3 blocks: free_blocks after update() must be 12, "
        f"got {steps[-1].free_after}"
    )
    assert s.has_work is False, "the only request finished: has_work must be False"


def test_max_new_tokens_of_one_finishes_when_the_prefill_completes() -> None:
    config = {"token_budget": 3, "num_blocks": 4, "block_size": 2, "max_running": 2}
    s = make(config, [(4, 7, 1)])
    expect(
        s,
        [({4: 3}, [], 2, []), ({4: 3}, [], 1, []), ({4: 1}, [], 0, [4])],
        "prompt 7 in chunks of 3, max_new_tokens 1",
    )


def test_a_stop_token_finishes_a_request_early() -> None:
    s = make(ROOMY, [(0, 3, 10), (1, 2, 10)])
    steps = expect(
        s,
        [({0: 3, 1: 2}, [], 9, []), ({0: 1, 1: 1}, [], 8, [1])],
        "request 1 stopped at step 2",
        stopped={2: [1]},
    )
    assert steps[-1].free_after == 10, (
        "stopped request 1 gives back its 2 blocks: free_blocks after update() must be 10, "
        f"got {steps[-1].free_after}"
    )
    expect(s, [({0: 1}, [], 9, [])], "request 0 after request 1 stopped")


def test_update_returns_finished_ids_in_the_order_of_scheduled() -> None:
    s = make(ROOMY, [(7, 2, 2), (3, 1, 1), (5, 2, 1)])
    expect(
        s,
        [({7: 2, 3: 1, 5: 2}, [], 9, [3, 5]), ({7: 1}, [], 10, [7])],
        "requests 7, 3, 5",
    )
    s = make(ROOMY, [(7, 2, 9), (3, 1, 9), (5, 2, 9)])
    expect(
        s,
        [({7: 2, 3: 1, 5: 2}, [], 9, [7, 3, 5])],
        "requests 7, 3, 5 all stopped in step 1, passed as stopped=[5, 3, 7]",
        stopped={1: [5, 3, 7]},
    )


def test_has_work_while_any_request_waits_or_runs() -> None:
    config = {"token_budget": 4, "num_blocks": 4, "block_size": 2, "max_running": 1}
    s = make(config, [(0, 1, 2), (1, 1, 1)])
    seen = [s.has_work]
    for _ in range(3):
        one_step(s)
        seen.append(s.has_work)
    assert seen == [True, True, True, False], (
        "request 0 runs two steps, then 1 (waiting for the one slot) one step: has_work "
        f"before and after each must be [True, True, True, False], got {seen}"
    )


def test_a_finished_id_can_be_added_again() -> None:
    s = make(ROOMY, [(7, 2, 1)])
    expect(s, [({7: 2}, [], 11, [7])], "request 7 (max_new_tokens 1)")
    s.add_request(7, 3, 1)
    expect(s, [({7: 3}, [], 10, [7])], "request 7 added again after it finished")


def test_add_request_refuses_an_id_that_is_waiting_or_running() -> None:
    s = make(ROOMY, [(0, 2, 5), (1, 2, 5)])
    with pytest.raises(ValueError):
        s.add_request(1, 3, 3)  # waiting
    one_step(s)
    with pytest.raises(ValueError):
        s.add_request(0, 1, 1)  # running


def test_add_request_refuses_empty_prompts_and_no_new_tokens() -> None:
    s = make(ROOMY)
    for prompt_len, max_new_tokens in [(0, 3), (3, 0), (-1, 3), (3, -2), (0, 0)]:
        with pytest.raises(ValueError):
            s.add_request(0, prompt_len, max_new_tokens)


@pytest.mark.parametrize(
    ("block_size", "num_blocks", "fits", "never"),
    [
        (4, 2, (4, 5), (4, 6)),
        (4, 2, (1, 8), (1, 9)),
        (3, 3, (9, 1), (10, 1)),
        (1, 5, (2, 4), (3, 4)),
    ],
)
def test_add_request_refuses_exactly_what_could_never_fit_the_pool(
    block_size: int, num_blocks: int, fits: tuple[int, int], never: tuple[int, int]
) -> None:
    config = {"token_budget": 8, "num_blocks": num_blocks, "block_size": block_size,
              "max_running": 2}  # fmt: skip
    s = make(config)
    s.add_request(0, *fits)  # ceil((prompt + new - 1) / block_size) == num_blocks
    with pytest.raises(ValueError):
        s.add_request(1, *never)  # one token more: one block more than the pool


def test_a_refused_request_leaves_the_scheduler_unchanged() -> None:
    s = make(SMALL, [(0, 4, 5)])
    for request_id, prompt_len, max_new_tokens in [(1, 4, 6), (0, 1, 1), (2, 0, 3)]:
        with pytest.raises(ValueError):
            s.add_request(request_id, prompt_len, max_new_tokens)
    expect(s, [({0: 4}, [], 1, [])], "after three refused add_request calls")
    s.add_request(1, 1, 1)  # the id refused for its size was never queued
    expect(s, [({0: 1}, [], 0, [])], "request 1 (1 token) behind a full pool")


@pytest.mark.parametrize("field", ["token_budget", "num_blocks", "block_size", "max_running"])
@pytest.mark.parametrize("bad", [0, -1])
def test_the_constructor_refuses_sizes_below_one(field: str, bad: int) -> None:
    config = dict(SMALL)
    config[field] = bad
    with pytest.raises(ValueError):
        sol.Scheduler(**config)


def test_scheduled_step_is_a_dataclass_with_two_fields_and_empty_defaults() -> None:
    empty = sol.ScheduledStep()
    assert (empty.scheduled, empty.preempted) == ({}, []), (
        f"ScheduledStep() must have scheduled == {{}} and preempted == [], got "
        f"{empty.scheduled!r} and {empty.preempted!r}"
    )
    step = sol.ScheduledStep(scheduled={3: 2, 1: 5}, preempted=[4])
    assert list(step.scheduled.items()) == [(3, 2), (1, 5)] and step.preempted == [4], (
        "ScheduledStep(scheduled={3: 2, 1: 5}, preempted=[4]) must keep both fields as given"
    )
