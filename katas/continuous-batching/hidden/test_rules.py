"""schedule(): each rule of the prompt on a small case worked by hand."""

from __future__ import annotations

from driver import expect, make, one_step, show

EX1 = {"token_budget": 8, "num_blocks": 4, "block_size": 4, "max_running": 4}
EX2 = {"token_budget": 16, "num_blocks": 4, "block_size": 2, "max_running": 4}


def test_worked_example_1_chunked_prefill_then_the_newest_is_preempted() -> None:
    s = make(EX1, [(0, 6, 10), (1, 5, 10)])
    expect(
        s,
        [
            ({0: 6, 1: 2}, [], 1, []),
            ({0: 1, 1: 3}, [], 0, []),
            ({0: 1, 1: 1}, [], 0, []),
            ({0: 1}, [1], 1, []),
            ({0: 1}, [], 1, []),
        ],
        "worked example 1",
    )


def test_worked_example_2_two_preempted_in_one_step_come_back_in_admission_order() -> None:
    s = make(EX2, [(0, 2, 5), (1, 2, 5), (2, 2, 5), (3, 2, 5), (4, 1, 5)])
    expect(
        s,
        [
            ({0: 2, 1: 2, 2: 2, 3: 2}, [], 0, []),
            ({0: 1, 1: 1}, [3, 2], 0, []),
            ({0: 1, 1: 1}, [], 0, []),
            ({0: 1}, [1], 1, []),
            ({0: 1}, [], 1, [0]),
            ({1: 5}, [], 1, []),
            ({1: 1}, [], 1, [1]),
            ({2: 3, 3: 3}, [], 0, []),  # 2 was admitted before 3: it comes back first
        ],
        "worked example 2",
    )


def test_the_request_being_scheduled_is_preempted_when_it_is_the_newest() -> None:
    config = {"token_budget": 16, "num_blocks": 3, "block_size": 2, "max_running": 4}
    s = make(config, [(0, 3, 3), (1, 2, 3)])
    expect(
        s,
        [
            ({0: 3, 1: 2}, [], 0, []),
            ({0: 1}, [1], 1, []),  # 1 needs a 2nd block and is itself the newest
            ({0: 1}, [], 0, [0]),
            ({1: 3}, [], 1, []),  # 1 recomputes its 3 known tokens
            ({1: 1}, [], 1, [1]),
        ],
        "request 1 preempting itself",
    )


def test_a_long_prompt_is_prefilled_in_chunks_of_the_budget_left() -> None:
    config = {"token_budget": 4, "num_blocks": 8, "block_size": 4, "max_running": 2}
    s = make(config, [(0, 10, 1)])
    expect(
        s,
        [({0: 4}, [], 7, []), ({0: 4}, [], 6, []), ({0: 2}, [], 5, [0])],
        "a 10-token prompt with token_budget 4 and max_new_tokens 1 (no token before the "
        "last chunk)",
    )


def test_blocks_cover_the_tokens_computed_so_far_plus_this_step() -> None:
    config = {"token_budget": 4, "num_blocks": 8, "block_size": 4, "max_running": 2}
    s = make(config, [(0, 10, 4)])
    expect(
        s,
        [
            ({0: 4}, [], 7, []),  # ceil(4 / 4) = 1 block, not the 3 the prompt will need
            ({0: 4}, [], 6, []),
            ({0: 2}, [], 5, []),
            ({0: 1}, [], 5, []),  # the 11th and 12th tokens fit the 3rd block
            ({0: 1}, [], 5, []),
            ({0: 1}, [], 4, [0]),  # the 13th needs a 4th
        ],
        "a 10-token prompt, block_size 4",
    )


def test_running_requests_go_first_in_admission_order_not_id_order() -> None:
    config = {"token_budget": 3, "num_blocks": 20, "block_size": 1, "max_running": 4}
    s = make(config, [(5, 3, 5)])
    first = one_step(s)
    s.add_request(2, 2, 5)
    second = one_step(s)
    s.add_request(9, 1, 5)
    third = one_step(s)
    got = [show(step.scheduled) for step in (first, second, third)]
    want = ["{5: 3}", "{5: 1, 2: 2}", "{5: 1, 2: 1, 9: 1}"]
    assert got == want, (
        "requests 5, 2, 9 admitted in that order must be scheduled in that order each step "
        f"(running ones first): expected {want}, got {got}"
    )
    frees = [step.free for step in (first, second, third)]
    assert frees == [17, 14, 11], (
        f"block_size 1: free_blocks after each schedule() must be [17, 14, 11], got {frees}"
    )


def test_decodes_spend_the_token_budget_too() -> None:
    config = {"token_budget": 3, "num_blocks": 20, "block_size": 1, "max_running": 4}
    s = make(config, [(0, 1, 5), (1, 1, 5), (2, 1, 5), (3, 1, 5)])
    expect(
        s,
        [
            ({0: 1, 1: 1, 2: 1}, [], 17, []),
            ({0: 1, 1: 1, 2: 1}, [], 14, []),  # three decodes use the whole budget: 3 waits
            ({0: 1, 1: 1, 2: 1}, [], 11, []),
        ],
        "token_budget 3, four 1-token prompts",
    )


def test_a_preempted_request_goes_to_the_front_of_the_waiting_queue() -> None:
    s = make(EX1, [(0, 6, 5), (1, 5, 10), (2, 1, 10)])
    expect(
        s,
        [
            ({0: 6, 1: 2}, [], 1, []),
            ({0: 1, 1: 3}, [], 0, []),  # 2 needs a block: none is free
            ({0: 1, 1: 1}, [], 0, []),
            ({0: 1}, [1], 1, []),
            ({0: 1}, [], 1, [0]),  # 1, now ahead of 2, needs 2 blocks: both wait
            ({1: 7, 2: 1}, [], 1, []),
        ],
        "worked example 1 with request 2 (prompt 1) queued behind 1",
    )


def test_a_preempted_request_recomputes_everything_it_knows() -> None:
    s = make(EX1, [(0, 6, 5), (1, 5, 10), (2, 1, 10)])
    steps = [one_step(s) for _ in range(6)]
    assert steps[3].preempted == [1], (
        f"step 4 of worked example 1 preempts request 1, got preempted {steps[3].preempted}"
    )
    assert steps[5].scheduled[:1] == [(1, 7)], (
        "request 1 (prompt 5, 2 tokens generated) was preempted; readmitted in step 6 it "
        f"recomputes all 7 tokens it knows: expected {{1: 7, ...}}, got "
        f"{show(steps[5].scheduled)}"
    )


def test_nothing_is_admitted_in_a_step_that_preempted() -> None:
    config = {"token_budget": 5, "num_blocks": 3, "block_size": 4, "max_running": 4}
    s = make(config, [(0, 4, 4), (1, 8, 2)])
    expect(
        s,
        [
            ({0: 4, 1: 1}, [], 1, []),
            # 0 takes the last block, 1 (the newest) is preempted; its first chunk (4
            # tokens, 1 block) would fit again, but not in this step
            ({0: 1}, [1], 1, []),
            ({0: 1, 1: 4}, [], 0, []),
        ],
        "request 1 preempted while 4 tokens of budget and 1 block are left",
    )


def test_the_head_of_the_queue_blocks_requests_behind_it() -> None:
    s = make(EX2, [(0, 5, 2), (1, 4, 3), (2, 1, 3)])
    expect(
        s,
        [
            ({0: 5}, [], 1, []),  # 1 needs 2 blocks, 1 is free; 2 would fit but waits
            ({0: 1}, [], 1, [0]),
            ({1: 4, 2: 1}, [], 1, []),
        ],
        "request 1 (2 blocks) at the head with 1 block free, request 2 (1 block) behind it",
    )


def test_max_running_caps_admission() -> None:
    config = {"token_budget": 16, "num_blocks": 10, "block_size": 4, "max_running": 2}
    s = make(config, [(0, 2, 1), (1, 3, 3), (2, 4, 2)])
    expect(
        s,
        [({0: 2, 1: 3}, [], 8, [0]), ({1: 1, 2: 4}, [], 8, [])],
        "max_running 2 with three requests",
    )


def test_admission_gives_the_head_the_budget_left_as_its_first_chunk() -> None:
    config = {"token_budget": 8, "num_blocks": 10, "block_size": 2, "max_running": 4}
    s = make(config, [(0, 3, 4), (1, 9, 2), (2, 1, 3)])
    expect(
        s,
        [
            ({0: 3, 1: 5}, [], 5, []),  # 1 gets min(9, 8 - 3) = 5 tokens, 3 blocks
            ({0: 1, 1: 4, 2: 1}, [], 2, []),  # 1's last 4 (5 blocks), then 2 in the 3 left
            ({0: 1, 1: 1, 2: 1}, [], 1, [1]),
        ],
        "token_budget 8, prompts of 3, 9 and 1",
    )


def test_an_empty_scheduler_schedules_nothing() -> None:
    s = make(EX1)
    assert s.has_work is False, f"a new scheduler has no work, has_work gave {s.has_work!r}"
    expect(s, [({}, [], 4, [])], "a scheduler with no requests")
