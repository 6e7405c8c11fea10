"""Part 1 order: priority (lower first), submission order on ties, exact aging in pops."""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol

from grader.judge.remote import batch


def pops(s: Any, n: int) -> list[int | None]:
    """n pops in one round trip."""
    return list(batch([(s.pop, ())] * n))


def test_lower_priority_number_pops_first() -> None:
    s = sol.RequestScheduler(1000)
    for rid, priority in [(1, 5), (2, -3), (3, 0), (4, 2)]:
        s.submit(rid, priority, "t")
    got = pops(s, 4)
    assert got == [2, 3, 4, 1], (
        f"priorities 5, -3, 0, 2 (ids 1-4) must pop lowest number first: [2, 3, 4, 1], got {got}"
    )


def test_equal_priorities_pop_in_submission_order_not_by_id() -> None:
    s = sol.RequestScheduler(1000)
    for rid in [30, 10, 20, 5]:
        s.submit(rid, 1, "t")
    got = pops(s, 4)
    assert got == [30, 10, 20, 5], (
        f"equal priorities pop in submission order [30, 10, 20, 5] (never by id), got {got}"
    )


def test_submission_order_breaks_ties_across_tenants() -> None:
    s = sol.RequestScheduler(1000)
    s.submit(9, 0, "b")
    s.submit(1, 0, "a")
    s.submit(8, 0, "c")
    got = pops(s, 3)
    assert got == [9, 1, 8], f"ties go to the earlier submission, whatever the tenant: got {got}"


def test_pop_on_an_empty_scheduler_returns_none() -> None:
    s = sol.RequestScheduler(3)
    assert s.pop() is None, "pop() with nothing waiting must return None"
    s.submit(1, 0, "t")
    assert s.pop() == 1
    assert s.pop() is None, "pop() after the only request ran must return None"


def test_the_worked_example_from_the_prompt() -> None:
    s = sol.RequestScheduler(2)
    s.submit(1, 3, "a")
    s.submit(2, 2, "b")
    s.submit(3, 2, "a")
    got = [s.pop()]
    s.submit(4, 2, "b")
    got.append(s.pop())
    s.submit(5, 2, "c")
    got += pops(s, 2)
    assert got == [2, 3, 4, 1], f"the prompt's example pops 2, 3, 4, 1; got {got}"
    assert len(s) == 1, f"5 is the only waiting request, len() gave {len(s)}"


def test_waiting_one_interval_is_worth_one_priority_level() -> None:
    # Interval 3: the old request (priority 1, arrival 0) ties a fresh priority-0 request
    # from tick 3 on (1 - 3/3 = 0) and wins the tie as the earlier submission; a fresh one
    # from tick 2 is still better (1 - 2/3 > 0).
    for fresh_tick, expected in [(2, "fresh"), (3, "old"), (4, "old")]:
        s = sol.RequestScheduler(3)
        s.submit(100, 1, "old")
        for k in range(fresh_tick):  # pass the ticks with requests that pop at once
            s.submit(k, -10, "filler")
            s.pop()
        s.submit(200, 0, "fresh")
        got = s.pop()
        want = 100 if expected == "old" else 200
        assert got == want, (
            f"aging_interval 3: priority 1 at arrival 0 vs priority 0 at arrival {fresh_tick}, "
            f"chosen at tick {fresh_tick}: expected {want} ({expected}), got {got}"
        )


def test_aging_is_exact_not_rounded_to_whole_intervals() -> None:
    # Interval 2. Counting whole intervals waited, (1, arrival 0) and (0, arrival 1) would
    # tie at tick 2; counting whole intervals of the arrival tick, (1, arrival 1) and
    # (0, arrival 2) would. Exact, both times: 1 - 2/2 = 0 against 0 - 1/2.
    for lead, old_arrival in [(0, 0), (1, 1)]:
        s = sol.RequestScheduler(2)
        for k in range(lead):
            s.submit(50 + k, -9, "filler")
            assert s.pop() == 50 + k
        s.submit(1, 1, "t")  # arrival old_arrival
        s.submit(60, -9, "filler")
        assert s.pop() == 60
        s.submit(2, 0, "t")  # arrival old_arrival + 1
        s.submit(61, -9, "filler")
        assert s.pop() == 61
        got = s.pop()  # now = old_arrival + 2
        now = old_arrival + 2
        assert got == 2, (
            f"at now={now} with interval 2, priority 1 from tick {old_arrival} has effective "
            f"{1 - (now - old_arrival) / 2} and priority 0 from tick {old_arrival + 1} has "
            f"{0 - (now - old_arrival - 1) / 2}: 2 must pop first, got {got} (is aging rounded?)"
        )


# (aging_interval, old arrival, old priority, new arrival, new priority), worked by hand:
# the new request arrives a whole number of intervals after the old one with as many
# priority levels less, so at the new arrival tick the old one's effective priority is
#   old priority - (new arrival - old arrival) / aging_interval = new priority,
# an exact tie, which the old request wins as the earlier submission. A key computed in
# floating point (priority + arrival / aging_interval) rounds the two sides differently
# in each of these cases and puts the new request first.
EXACT_TIES = [
    (3, 5, -2, 8, -3),  # -2 - 3/3 = -3
    (3, 1, 0, 4, -1),  # 0 - 3/3 = -1
    (3, 4, 0, 13, -3),  # 0 - 9/3 = -3
    (5, 1, 0, 6, -1),  # 0 - 5/5 = -1
    (5, 4, 1, 14, -1),  # 1 - 10/5 = -1
    (5, 9, -1, 24, -4),  # -1 - 15/5 = -4
]


def pass_ticks(s: Any, first_id: int, n: int) -> None:
    """n ticks, each a pop of a filler request (priority -100) submitted just before it."""
    for k in range(n):
        got = batch([(s.submit, (first_id + k, -100, "filler")), (s.pop, ())])[1]
        assert got == first_id + k, f"a priority -100 filler must pop at once, got {got}"


@pytest.mark.parametrize(("interval", "a_old", "p_old", "a_new", "p_new"), EXACT_TIES)
def test_an_exact_aging_tie_goes_to_the_earlier_submission(
    interval: int, a_old: int, p_old: int, a_new: int, p_new: int
) -> None:
    s = sol.RequestScheduler(interval)
    pass_ticks(s, 1000, a_old)
    s.submit(20, p_old, "old")  # arrival a_old
    pass_ticks(s, 2000, a_new - a_old)
    s.submit(10, p_new, "new")  # arrival a_new; the smaller id, which must not matter
    got = pops(s, 2)
    assert got == [20, 10], (
        f"aging_interval {interval}, now {a_new}: request 20 (priority {p_old}, arrival "
        f"{a_old}) has effective {p_old} - {a_new - a_old}/{interval} = {p_new} exactly, the "
        f"same as request 10 (priority {p_new}, arrival {a_new}); the tie goes to 20, "
        f"submitted first, so the pops are [20, 10]; got {got} (is the aging key rounded, "
        "e.g. a float, or are ties broken by id?)"
    )


def test_older_requests_pass_newer_better_ones_as_they_age() -> None:
    # Interval 1: one step of priority per tick. An old priority-4 request submitted at
    # tick 0 and a priority-0 request submitted at tick 5: 4 - 5 < 0, the old one first.
    s = sol.RequestScheduler(1)
    s.submit(1, 4, "t")
    for k in range(5):
        s.submit(10 + k, -100, "t")
    assert pops(s, 5) == [10, 11, 12, 13, 14]
    s.submit(2, 0, "t")
    got = pops(s, 2)
    assert got == [1, 2], (
        f"at tick 5, priority 4 from tick 0 (effective -1) beats priority 0 from tick 5: "
        f"expected [1, 2], got {got}"
    )


def test_a_low_priority_request_is_never_starved() -> None:
    # A fresh priority-0 request arrives before every pop; the priority-5 request waiting
    # since tick 0 reaches effective 0 at tick 5 * 3 = 15 and wins the tie there.
    s = sol.RequestScheduler(3)
    s.submit(-1, 5, "low")
    got = []
    for t in range(20):
        got += batch([(s.submit, (t, 0, "high")), (s.pop, ())])[1:]
    assert -1 in got, f"20 pops with fresh priority-0 requests never chose the aged one: {got}"
    assert got.index(-1) == 15, (
        f"priority 5 at interval 3 reaches effective 0 at tick 15 and wins the tie with the "
        f"priority-0 request submitted then: it must be pop number 15 (from 0), "
        f"was {got.index(-1)}"
    )


def test_the_clock_counts_pops_not_submits() -> None:
    s = sol.RequestScheduler(1)
    s.submit(1, 1, "t")  # arrival 0
    s.submit(2, 0, "t")  # arrival 0 too: submits do not tick
    got = pops(s, 2)
    assert got == [2, 1], (
        f"two submits at tick 0, priorities 1 then 0: the 0 pops first; got {got} (does "
        "something other than pop() advance the clock?)"
    )


def test_negative_priorities_are_ordinary_ints() -> None:
    s = sol.RequestScheduler(5)
    s.submit(1, -1, "t")
    s.submit(2, -1000, "t")
    s.submit(3, 0, "t")
    assert pops(s, 3) == [2, 1, 3]


@pytest.mark.parametrize(("interval", "cap"), [(0, None), (-2, None), (1, 0), (3, -1)])
def test_bad_settings_are_rejected(interval: int, cap: int | None) -> None:
    with pytest.raises(ValueError):
        sol.RequestScheduler(interval, cap)
