"""Part 2: a cap on each tenant's running requests, composed with priority and aging."""

from __future__ import annotations

from typing import Any

import solution as sol

from grader.judge.remote import batch


def pops(s: Any, n: int) -> list[int | None]:
    return list(batch([(s.pop, ())] * n))


def test_the_cap_example_from_the_prompt() -> None:
    s = sol.RequestScheduler(4, 1)
    s.submit(10, 0, "a")
    s.submit(11, 0, "a")
    s.submit(20, 5, "b")
    got = pops(s, 3)
    assert got == [10, 20, None], (
        f"cap 1: a runs 10 and is at its cap, so 20 then nothing: expected [10, 20, None], "
        f"got {got}"
    )
    s.finish(10)
    assert s.pop() == 11, "after finish(10), a is below its cap and 11 must pop"


def test_a_tenant_at_its_cap_is_skipped_whatever_its_priority() -> None:
    s = sol.RequestScheduler(1000, 2)
    for rid in range(5):
        s.submit(rid, -50, "hog")
    s.submit(100, 7, "x")
    s.submit(101, 8, "y")
    got = pops(s, 5)
    assert got == [0, 1, 100, 101, None], (
        f"cap 2: hog runs 0 and 1, then only x and y may run: expected "
        f"[0, 1, 100, 101, None], got {got}"
    )
    assert len(s) == 3, f"hog's 3 other requests still wait, len() gave {len(s)}"


def test_finish_lets_the_tenant_run_its_best_request_next() -> None:
    s = sol.RequestScheduler(1000, 1)
    s.submit(1, 0, "a")
    s.submit(2, 1, "a")
    s.submit(3, 9, "b")
    assert pops(s, 2) == [1, 3]
    assert s.pop() is None, "a is at its cap (1 running) and b has nothing waiting"
    s.finish(1)
    got = s.pop()
    assert got == 2, f"finish(1) puts a below its cap: its waiting request 2 must pop, got {got}"


def test_a_finish_of_another_tenant_does_not_free_a_slot() -> None:
    s = sol.RequestScheduler(1000, 1)
    s.submit(1, 0, "a")
    s.submit(2, 0, "b")
    s.submit(3, 0, "a")
    assert pops(s, 2) == [1, 2]
    s.finish(2)
    assert s.pop() is None, "b finished, but a still has 1 running: 3 must keep waiting"
    s.finish(1)
    assert s.pop() == 3


def test_requests_of_a_capped_tenant_keep_aging() -> None:
    # Interval 2. a's request 2 (priority 1) waits from tick 0 behind a's cap; b's
    # priority-0 requests arrive and run. At tick 4, 2 has effective 1 - 4/2 = -1 and
    # beats b's fresh priority-0 request once a is below its cap.
    s = sol.RequestScheduler(2, 1)
    s.submit(1, -5, "a")
    s.submit(2, 1, "a")
    assert s.pop() == 1
    for k in range(3):
        s.submit(10 + k, 0, "b")
        assert s.pop() == 10 + k
        s.finish(10 + k)
    s.finish(1)
    s.submit(20, 0, "b")
    got = s.pop()
    assert got == 2, (
        f"a's request 2 waited 4 ticks at interval 2 (effective -1) while a was capped: it "
        f"must beat b's fresh priority-0 request; got {got}"
    )


def test_pops_that_return_none_still_tick() -> None:
    # Interval 1, cap 1. a's request 2 arrives at tick 1. Two pops return None while a is
    # capped (ticks 1 and 2), so c's request, priority -1 at arrival 3, has effective
    # -1 at tick 3 against 2's 0 - 2 = -2: 2 runs first.
    s = sol.RequestScheduler(1, 1)
    s.submit(1, 0, "a")
    assert s.pop() == 1
    s.submit(2, 0, "a")
    assert pops(s, 2) == [None, None]
    s.finish(1)
    s.submit(3, -1, "c")
    got = pops(s, 2)
    assert got == [2, 3], (
        f"the two pops that returned None were ticks too: 2 (arrival 1) has effective -2 at "
        f"tick 3 and beats 3 (priority -1, arrival 3); expected [2, 3], got {got}"
    )


def test_a_cancelled_request_of_a_capped_tenant_is_not_returned_later() -> None:
    s = sol.RequestScheduler(1000, 1)
    s.submit(1, 0, "a")
    s.submit(2, 0, "a")
    s.submit(3, 1, "a")
    assert s.pop() == 1
    assert s.cancel(2) is True
    s.finish(1)
    got = pops(s, 2)
    assert got == [3, None], f"2 was cancelled while a was capped: expected [3, None], got {got}"


def test_without_a_cap_a_tenant_may_run_everything() -> None:
    s = sol.RequestScheduler(1000)
    for rid in range(4):
        s.submit(rid, 0, "a")
    s.submit(9, 1, "b")
    assert pops(s, 6) == [0, 1, 2, 3, 9, None]


def test_a_cap_of_several_allows_that_many_running() -> None:
    s = sol.RequestScheduler(1000, 3)
    for rid in range(5):
        s.submit(rid, 0, "a")
    assert pops(s, 4) == [0, 1, 2, None]
    s.finish(1)
    assert pops(s, 2) == [3, None]
    s.finish(0)
    s.finish(2)
    assert pops(s, 2) == [4, None]
