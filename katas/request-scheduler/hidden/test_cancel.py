"""Cancellation (lazy or not), len, resubmission of an id, and the errors of submit."""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol

from grader.judge.remote import batch


def pops(s: Any, n: int) -> list[int | None]:
    return list(batch([(s.pop, ())] * n))


def test_cancel_removes_a_waiting_request() -> None:
    s = sol.RequestScheduler(4)
    for rid, priority in [(1, 0), (2, 1), (3, 2)]:
        s.submit(rid, priority, "t")
    assert s.cancel(2) is True, "cancel of a waiting request must return True"
    got = pops(s, 3)
    assert got == [1, 3, None], f"after cancelling 2, pops must give [1, 3, None], got {got}"


def test_a_cancelled_best_request_is_skipped() -> None:
    s = sol.RequestScheduler(4)
    s.submit(1, 0, "t")
    s.submit(2, 1, "t")
    s.submit(3, 2, "u")
    assert s.cancel(1) is True
    got = pops(s, 3)
    assert got == [2, 3, None], (
        f"the best request (1) was cancelled: the next of its tenant (2) must pop, then 3; got {got}"
    )


def test_cancelling_every_request_of_a_tenant_leaves_the_others() -> None:
    s = sol.RequestScheduler(4)
    for rid in range(5):
        s.submit(rid, 0, "a")
    s.submit(9, 3, "b")
    assert all(batch([(s.cancel, (rid,)) for rid in range(5)]))
    got = pops(s, 2)
    assert got == [9, None], f"only b's request is left: expected [9, None], got {got}"


def test_cancel_of_an_unknown_id_returns_false() -> None:
    s = sol.RequestScheduler(4)
    assert s.cancel(7) is False, "cancel of an id never submitted must return False"
    s.submit(1, 0, "t")
    assert s.cancel(7) is False
    assert len(s) == 1 and s.pop() == 1, "a failed cancel must change nothing"


def test_cancel_twice_returns_false_the_second_time() -> None:
    s = sol.RequestScheduler(4)
    s.submit(1, 0, "t")
    assert s.cancel(1) is True
    assert s.cancel(1) is False, "a request already cancelled is not waiting: False"


def test_cancel_of_a_running_request_returns_false_and_changes_nothing() -> None:
    s = sol.RequestScheduler(4, 1)
    s.submit(1, 0, "t")
    s.submit(2, 0, "t")
    assert s.pop() == 1
    assert s.cancel(1) is False, "cancel of a popped (running) request must return False"
    assert s.pop() is None, "1 is still running, so its tenant is still at its cap of 1"
    s.finish(1)
    assert s.pop() == 2
    s.finish(2)
    assert s.cancel(2) is False, "cancel of a finished request must return False"


def test_len_counts_waiting_requests_only() -> None:
    s = sol.RequestScheduler(4)
    for rid in range(6):
        s.submit(rid, rid, "t")
    assert len(s) == 6
    s.cancel(3)
    s.cancel(0)
    s.cancel(3)
    assert len(s) == 4, f"6 submitted, 2 cancelled: len() must be 4, got {len(s)}"
    assert s.pop() == 1
    assert len(s) == 3, f"after one pop, 3 wait (running requests do not count), got {len(s)}"
    s.cancel(1)
    assert len(s) == 3, "cancelling a running request changes nothing"
    pops(s, 3)
    assert len(s) == 0


def test_a_cancelled_id_submitted_again_is_a_new_request() -> None:
    s = sol.RequestScheduler(1000)
    s.submit(1, 0, "a")
    s.submit(2, 5, "b")
    assert s.cancel(1)
    s.submit(1, 9, "b")  # same id, now the worst request, and another tenant
    got = pops(s, 3)
    assert got == [2, 1, None], (
        f"id 1 resubmitted at priority 9 after its cancel is a new request behind 2: expected "
        f"[2, 1, None], got {got} (did the cancelled entry come back to life?)"
    )


def test_a_resubmitted_id_gets_a_new_arrival_and_submission_number() -> None:
    s = sol.RequestScheduler(1000)
    s.submit(1, 0, "t")
    s.submit(2, 0, "t")
    assert s.cancel(1)
    s.submit(1, 0, "t")
    got = pops(s, 2)
    assert got == [2, 1], f"the resubmitted 1 was submitted after 2: expected [2, 1], got {got}"


def test_a_finished_id_may_be_submitted_again() -> None:
    s = sol.RequestScheduler(10)
    s.submit(1, 0, "t")
    assert s.pop() == 1
    s.finish(1)
    s.submit(1, 3, "t")
    assert len(s) == 1 and s.pop() == 1


def test_submit_of_a_waiting_or_running_id_raises_value_error() -> None:
    s = sol.RequestScheduler(10)
    s.submit(1, 0, "t")
    with pytest.raises(ValueError):
        s.submit(1, 2, "u")
    assert len(s) == 1, "a rejected submit must not queue anything"
    assert s.pop() == 1
    with pytest.raises(ValueError):
        s.submit(1, 0, "t")
    assert len(s) == 0 and s.pop() is None, "a rejected submit must not queue anything"


def test_finish_of_a_request_that_is_not_running_raises_key_error() -> None:
    s = sol.RequestScheduler(10)
    with pytest.raises(KeyError):
        s.finish(1)  # unknown
    s.submit(1, 0, "t")
    with pytest.raises(KeyError):
        s.finish(1)  # waiting
    assert s.pop() == 1
    s.finish(1)
    with pytest.raises(KeyError):
        s.finish(1)  # finished already
    s.submit(2, 0, "t")
    s.cancel(2)
    with pytest.raises(KeyError):
        s.finish(2)  # cancelled
