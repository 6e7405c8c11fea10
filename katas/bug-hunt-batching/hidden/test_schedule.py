"""Hand-worked schedules: each rule of the file on a trace small enough to check by hand."""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol

EOS = 0

Step = tuple[dict[int, int], list[int], list[int]]


def make(budget: int, blocks: int, size: int, running: int, *requests: tuple[int, int]) -> Any:
    """A scheduler with requests (prompt_len, max_new_tokens) added as ids 0, 1, ..."""
    s = sol.Scheduler(budget, blocks, size, running)
    for request_id, (prompt_len, max_new) in enumerate(requests):
        s.add(sol.Request(request_id, [100 + j for j in range(prompt_len)], max_new))
    return s


def step(s: Any, token: int = 7) -> Step:
    """(scheduled in order, preempted, finished) of one step, every request sampling `token`."""
    plan = s.step()
    scheduled = plan.num_scheduled_tokens
    preempted = plan.preempted_ids
    finished = s.update(plan, {request_id: token for request_id in scheduled})
    return scheduled, preempted, finished


def expect(s: Any, want: list[Step], what: str) -> None:
    got: list[Step] = []
    for k, w in enumerate(want, 1):
        g = step(s)
        got.append(g)
        assert (list(g[0].items()), g[1], g[2]) == (list(w[0].items()), w[1], w[2]), (
            f"{what}, step {k}: (scheduled, preempted, finished) must be {w}, got {g}; "
            f"steps before: {got[:-1]}"
        )


def test_worked_example_chunked_prefill_then_the_newest_is_preempted() -> None:
    s = make(8, 4, 4, 4, (6, 10), (5, 10))
    expect(
        s,
        [
            ({0: 6, 1: 2}, [], []),
            ({0: 1, 1: 3}, [], []),
            ({0: 1, 1: 1}, [], []),
            ({0: 1}, [1], []),  # 0's 9th token needs a 3rd block: 1 is the newest
            ({0: 1}, [], []),  # 1 needs ceil(7 / 4) = 2 blocks to come back, 1 is free
        ],
        "budget 8, 4 blocks of 4, prompts 6 and 5",
    )
    assert s.num_free_blocks == 1


def test_a_long_prompt_is_prefilled_in_chunks_of_the_budget() -> None:
    s = make(4, 8, 2, 2, (10, 2))
    expect(s, [({0: 4}, [], []), ({0: 4}, [], []), ({0: 2}, [], []), ({0: 1}, [], [0])], "")


def test_the_chunk_of_an_admitted_prompt_is_what_running_requests_left() -> None:
    s = make(6, 16, 2, 4, (2, 5), (2, 5))
    step(s)  # both prefilled; both decode from now on
    s.add(sol.Request(2, list(range(100, 120)), 3))
    expect(s, [({0: 1, 1: 1, 2: 4}, [], []), ({0: 1, 1: 1, 2: 4}, [], [])], "two decodes")


def test_a_prompt_whose_last_chunk_is_exactly_the_budget_then_decodes() -> None:
    s = make(4, 8, 2, 2, (8, 3))
    expect(s, [({0: 4}, [], []), ({0: 4}, [], []), ({0: 1}, [], []), ({0: 1}, [], [0])], "")


def test_a_partial_prefill_discards_its_sample() -> None:
    s = make(3, 8, 2, 2, (5, 2))
    r = sol.Request(1, [1, 2], 2)
    s.add(r)
    plan = s.step()
    assert plan.num_scheduled_tokens == {0: 3}
    s.update(plan, {0: 42})
    assert s.output_token_ids(0) == [], "a chunk that ends inside the prompt samples nothing"
    assert s.num_computed_tokens(0) == 3
    plan = s.step()
    assert plan.num_scheduled_tokens == {0: 2, 1: 1}
    s.update(plan, {0: 43, 1: 44})
    assert s.output_token_ids(0) == [43]
    assert r.output_token_ids == [], "request 1 prefilled 1 of its 2 prompt tokens"


def test_preemption_takes_the_newest_first_and_may_take_the_request_itself() -> None:
    s = make(16, 3, 2, 3, (2, 4), (2, 4), (2, 4))
    expect(s, [({0: 2, 1: 2, 2: 2}, [], []), ({0: 1}, [2, 1], [])], "3 blocks of 2")
    assert s.waiting_ids() == [1, 2], "preempted requests wait at the front, oldest first"
    assert s.running_ids() == [0]


def test_preempting_the_newest_keeps_the_older_requests_running() -> None:
    s = make(16, 5, 2, 4, (2, 6), (2, 6), (2, 6), (2, 6))
    step(s)  # 4 blocks taken, 1 free
    scheduled, preempted, _ = step(s)  # 0 takes the free block; 1 preempts 3; 2 preempts 2
    assert (scheduled, preempted) == ({0: 1, 1: 1}, [3, 2]), (scheduled, preempted)
    assert s.running_ids() == [0, 1] and s.waiting_ids() == [2, 3]


def test_a_step_that_preempted_admits_nothing_even_with_budget_and_blocks() -> None:
    s = make(3, 4, 2, 4, (2, 6), (1, 6))
    expect(
        s,
        [({0: 2, 1: 1}, [], []), ({0: 1, 1: 1}, [], []), ({0: 1, 1: 1}, [], []), ({0: 1}, [1], [])],
        "",
    )
    assert s.num_free_blocks == 1 and s.waiting_ids() == [1]


def test_a_preempted_request_has_no_cache_and_recomputes_everything_it_knows() -> None:
    s = make(16, 3, 2, 3, (2, 4), (2, 4), (2, 4))
    step(s)
    step(s)  # preempts 2 then 1, each knowing 3 tokens
    assert s.num_computed_tokens(1) == 0 and s.num_computed_tokens(2) == 0
    assert s.blocks.num_blocks_of(1) == 0 and s.blocks.num_blocks_of(2) == 0
    expect(s, [({0: 1}, [], []), ({0: 1}, [], [0]), ({1: 3}, [], [])], "after preemption")
    assert s.output_token_ids(1) == [7, 7], "recomputing samples nothing new until done"


def test_a_preempted_request_goes_back_in_front_of_requests_that_never_ran() -> None:
    s = make(16, 3, 2, 3, (2, 4), (2, 4), (2, 4), (2, 4))
    step(s)
    step(s)
    assert s.waiting_ids() == [1, 2, 3], f"waiting: {s.waiting_ids()}"


def test_the_head_of_the_queue_blocks_smaller_requests_behind_it() -> None:
    s = make(16, 4, 2, 4, (6, 2), (7, 1), (1, 1))
    expect(s, [({0: 6}, [], []), ({0: 1}, [], [0]), ({1: 7}, [], [1]), ({2: 1}, [], [2])], "")


@pytest.mark.parametrize(("tokens", "blocks"), [(0, 0), (1, 1), (3, 1), (4, 1), (5, 2), (8, 2)])
def test_blocks_needed_rounds_up_to_whole_blocks(tokens: int, blocks: int) -> None:
    s = sol.Scheduler(4, 8, 4, 2)
    got = s.blocks.blocks_needed(tokens)
    assert got == blocks, f"{tokens} tokens at block_size 4 need {blocks} blocks, got {got}"


def test_prompts_that_fill_whole_blocks_take_exactly_those_blocks() -> None:
    s = make(16, 3, 4, 4, (4, 1), (8, 1))
    plan = s.step()
    assert plan.num_scheduled_tokens == {0: 4, 1: 8}
    assert s.num_free_blocks == 0
    assert s.update(plan, {0: 1, 1: 1}) == [0, 1]
    assert s.num_free_blocks == 3


def test_finished_requests_give_their_blocks_back() -> None:
    s = make(16, 4, 2, 4, (3, 1), (4, 2))
    assert step(s) == ({0: 3, 1: 4}, [], [0])
    assert s.num_free_blocks == 2, "request 0 finished: its 2 blocks are free again"
    assert step(s) == ({1: 1}, [], [1])
    assert s.num_free_blocks == 4 and not s.has_unfinished_requests


def test_a_request_that_samples_its_eos_finishes_and_frees_its_blocks() -> None:
    s = sol.Scheduler(16, 8, 2, 4)
    r = sol.Request(5, [1, 2, 3], 10, eos_token_id=EOS)
    s.add(r)
    assert s.update(s.step(), {5: 9}) == []
    assert s.update(s.step(), {5: EOS}) == [5]
    assert r.output_token_ids == [9, EOS] and r.status == "finished"
    assert s.num_free_blocks == 8


@pytest.mark.parametrize("max_new", [1, 2, 5])
def test_a_request_returns_exactly_max_new_tokens(max_new: int) -> None:
    s = sol.Scheduler(16, 8, 2, 4)
    r = sol.Request(0, [1, 2], max_new)
    s.add(r)
    for k in range(max_new):
        finished = s.update(s.step(), {0: 10 + k})
        assert finished == ([0] if k == max_new - 1 else []), (k, finished)
    assert r.output_token_ids == [10 + k for k in range(max_new)]


def test_admission_stops_at_max_running() -> None:
    s = make(16, 16, 2, 3, (1, 3), (1, 3), (1, 3), (1, 3), (1, 3))
    assert step(s)[0] == {0: 1, 1: 1, 2: 1}
    assert s.running_ids() == [0, 1, 2] and s.waiting_ids() == [3, 4]


def test_the_plan_lists_running_requests_then_admitted_ones() -> None:
    s = make(16, 16, 2, 4, (3, 4))
    step(s)
    s.add(sol.Request(1, [1, 2], 4))
    s.add(sol.Request(2, [1], 4))
    assert list(step(s)[0].items()) == [(0, 1), (1, 2), (2, 1)]


def test_add_rejects_what_could_never_run() -> None:
    s = sol.Scheduler(8, 2, 4, 4)
    s.add(sol.Request(0, [1, 2, 3, 4], 5))  # 8 tokens at its longest: exactly 2 blocks
    with pytest.raises(ValueError):
        s.add(sol.Request(1, [1, 2, 3, 4], 6))  # 9 tokens: 3 blocks
    with pytest.raises(ValueError):
        s.add(sol.Request(0, [1], 1))  # 0 is waiting
    with pytest.raises(ValueError):
        s.add(sol.Request(2, [], 1))
    with pytest.raises(ValueError):
        s.add(sol.Request(3, [1], 0))
    assert s.waiting_ids() == [0]


@pytest.mark.parametrize("args", [(0, 4, 4, 4), (4, 0, 4, 4), (4, 4, 0, 4), (4, 4, 4, 0)])
def test_the_scheduler_rejects_empty_budgets(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        sol.Scheduler(*args)
