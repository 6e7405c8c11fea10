"""A few examples from the prompt. Run with `drill test`."""

from __future__ import annotations

import pytest
from solution import RequestScheduler


def test_lower_priority_number_first_then_submission_order() -> None:
    s = RequestScheduler(aging_interval=100)
    s.submit(7, 1, "a")
    s.submit(5, 0, "a")
    s.submit(3, 0, "b")
    assert [s.pop(), s.pop(), s.pop(), s.pop()] == [5, 3, 7, None]


def test_the_worked_aging_example() -> None:
    s = RequestScheduler(aging_interval=2)
    s.submit(1, 3, "a")
    s.submit(2, 2, "b")
    s.submit(3, 2, "a")
    assert s.pop() == 2
    s.submit(4, 2, "b")
    assert s.pop() == 3
    s.submit(5, 2, "c")
    assert s.pop() == 4
    assert s.pop() == 1  # 1 and 5 tie at 1.5: 1 was submitted first
    assert len(s) == 1


def test_cancel_removes_only_waiting_requests() -> None:
    s = RequestScheduler(aging_interval=2)
    s.submit(1, 0, "a")
    s.submit(2, 1, "a")
    assert s.pop() == 1
    assert s.cancel(2) is True
    assert s.cancel(2) is False
    assert s.cancel(1) is False  # running
    assert s.pop() is None and len(s) == 0


def test_a_tenant_at_its_cap_is_skipped_until_finish() -> None:
    s = RequestScheduler(aging_interval=4, max_running_per_tenant=1)
    s.submit(10, 0, "a")
    s.submit(11, 0, "a")
    s.submit(20, 5, "b")
    assert [s.pop(), s.pop(), s.pop()] == [10, 20, None]
    s.finish(10)
    assert s.pop() == 11
    with pytest.raises(KeyError):
        s.finish(10)
