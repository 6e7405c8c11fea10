"""The repro the user attached: small, hand-checked schedules. Run with `drill test`."""

from __future__ import annotations

from solution import Request, Scheduler, StepPlan

EOS = 0


def request(request_id: int, prompt_len: int, max_new_tokens: int) -> Request:
    """A request whose prompt is `prompt_len` tokens (ids 100, 101, ...) and no EOS."""
    return Request(request_id, [100 + j for j in range(prompt_len)], max_new_tokens)


def step(s: Scheduler, token: int = 7) -> tuple[dict[int, int], list[int], list[int]]:
    """One engine step, every request sampling `token`: (scheduled, preempted, finished)."""
    plan: StepPlan = s.step()
    scheduled = dict(plan.num_scheduled_tokens)
    preempted = list(plan.preempted_ids)
    finished = s.update(plan, {request_id: token for request_id in scheduled})
    return scheduled, preempted, finished


def three_full_requests() -> Scheduler:
    """A pool of 3 blocks of 2 tokens, three requests of a 2-token prompt: after step 1
    each holds one full block, and every next token needs a block that is not there."""
    s = Scheduler(token_budget=16, num_blocks=3, block_size=2, max_running=3)
    for request_id in range(3):
        s.add(request(request_id, 2, 4))
    s.add(request(3, 2, 4))  # waits: max_running is 3
    assert step(s) == ({0: 2, 1: 2, 2: 2}, [], [])
    return s


def test_a_step_never_schedules_more_than_the_token_budget() -> None:
    s = Scheduler(token_budget=8, num_blocks=8, block_size=4, max_running=4)
    s.add(request(0, 3, 4))
    s.add(request(1, 20, 4))
    for k in range(1, 5):
        scheduled, _, _ = step(s)
        total = sum(scheduled.values())
        assert total <= 8, f"step {k} schedules {total} tokens {scheduled}; the budget is 8"
        if k == 1:
            assert scheduled == {0: 3, 1: 5}, f"step 1 scheduled {scheduled}"


def test_memory_pressure_preempts_the_newest_request() -> None:
    s = three_full_requests()
    scheduled, preempted, _ = step(s)
    # 0 needs a 2nd block: 2 (the newest) goes; 1 then needs one and is the newest itself.
    assert (scheduled, preempted) == ({0: 1}, [2, 1]), (
        f"step 2 scheduled {scheduled} and preempted {preempted}"
    )


def test_a_preempted_request_runs_again_before_later_arrivals() -> None:
    s = three_full_requests()
    step(s)  # preempts 2, then 1
    assert s.waiting_ids() == [1, 2, 3], f"waiting queue (front first): {s.waiting_ids()}"
    step(s)  # 0 decodes; 1 needs 2 blocks to come back, 1 is free
    scheduled, _, finished = step(s)  # 0 generates its 4th token and finishes
    assert (scheduled, finished) == ({0: 1}, [0])
    scheduled, _, _ = step(s)
    assert list(scheduled) == [1], f"step 5 must bring back request 1 first, got {scheduled}"


def test_a_preempted_request_recomputes_its_prompt_and_its_outputs() -> None:
    s = three_full_requests()
    step(s)
    step(s)
    step(s)  # 0 finishes and gives its 3 blocks back
    scheduled, _, _ = step(s)
    # Request 1 knows 3 tokens (2 of prompt, 1 generated); its cache was dropped.
    assert scheduled == {1: 3}, f"step 5 scheduled {scheduled}"


def test_a_step_that_preempts_admits_nothing() -> None:
    s = Scheduler(token_budget=3, num_blocks=4, block_size=2, max_running=4)
    s.add(request(0, 2, 6))
    s.add(request(1, 1, 6))
    assert step(s) == ({0: 2, 1: 1}, [], [])
    assert step(s) == ({0: 1, 1: 1}, [], [])
    assert step(s) == ({0: 1, 1: 1}, [], [])
    scheduled, preempted, _ = step(s)  # 0's 5th token needs a 3rd block
    assert (scheduled, preempted) == ({0: 1}, [1]), (
        f"step 4 scheduled {scheduled} and preempted {preempted}"
    )


def test_requests_that_fill_whole_blocks_share_the_pool() -> None:
    s = Scheduler(token_budget=16, num_blocks=2, block_size=4, max_running=4)
    s.add(request(0, 4, 1))
    s.add(request(1, 4, 1))
    scheduled, _, finished = step(s)
    assert scheduled == {0: 4, 1: 4}, f"two 4-token prompts, two 4-token blocks: {scheduled}"
    assert finished == [0, 1]
    assert s.num_free_blocks == 2


def test_the_pool_is_whole_again_after_every_request_finished() -> None:
    s = Scheduler(token_budget=16, num_blocks=2, block_size=4, max_running=1)
    for request_id in range(5):
        s.add(request(request_id, 3, 2))
    done: list[int] = []
    for _ in range(20):
        done += step(s)[2]
        if not s.has_unfinished_requests:
            break
    assert done == [0, 1, 2, 3, 4], f"finished after 20 steps: {done}"
    assert s.num_free_blocks == 2, f"{s.num_free_blocks} of 2 blocks free with nothing running"


def test_no_more_than_max_running_requests_run_at_once() -> None:
    s = Scheduler(token_budget=16, num_blocks=8, block_size=4, max_running=2)
    for request_id in range(3):
        s.add(request(request_id, 2, 3))
    scheduled, _, _ = step(s)
    assert scheduled == {0: 2, 1: 2}, f"max_running=2, step 1 scheduled {scheduled}"
    assert s.running_ids() == [0, 1] and s.waiting_ids() == [2]


def test_a_request_returns_exactly_max_new_tokens_or_stops_at_eos() -> None:
    s = Scheduler(token_budget=16, num_blocks=8, block_size=4, max_running=4)
    a = request(0, 3, 3)
    b = Request(1, [100, 101], 5, eos_token_id=EOS)
    s.add(a)
    s.add(b)
    finished = [step(s, token)[2] for token in [5, EOS, 6]]
    assert finished == [[], [1], [0]], f"finished per step: {finished}"
    assert a.output_token_ids == [5, EOS, 6], f"request 0 returned {a.output_token_ids}"
    assert b.output_token_ids == [5, EOS], f"request 1 returned {b.output_token_ids}"
    assert not s.has_unfinished_requests
