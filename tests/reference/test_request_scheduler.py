"""reference.request_scheduler against independent oracles.

- `LiteralScheduler`: the rule as words state it. Every pop scans all waiting requests
  and computes `priority - (now - arrival) / aging_interval` as an exact Fraction at
  the current tick (no precomputed key), skipping tenants at their cap. It predicts
  every result of every operation.
- `queue.PriorityQueue` (the standard library's heap queue): without aging the order
  is (priority, submission order), vLLM's priority policy; the reference must pop
  exactly what the peer gets for the same pairs.
- The worked example of the module docstring, by hand.
"""

from __future__ import annotations

import queue
import random
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from reference.request_scheduler import RequestScheduler


@dataclass(frozen=True)
class Waiting:
    request_id: int
    priority: int
    tenant: str
    arrival: int
    number: int


class LiteralScheduler:
    """O(n) per pop: the rule, read literally."""

    def __init__(self, aging_interval: int, cap: int | None = None) -> None:
        self.interval, self.cap = aging_interval, cap
        self.now = self.submitted = 0
        self.waiting: list[Waiting] = []
        self.running: dict[int, str] = {}

    def submit(self, request_id: int, priority: int, tenant: str) -> None:
        self.waiting.append(Waiting(request_id, priority, tenant, self.now, self.submitted))
        self.submitted += 1

    def pop(self) -> int | None:
        def effective(r: Waiting) -> tuple[Fraction, int]:
            return Fraction(r.priority) - Fraction(self.now - r.arrival, self.interval), r.number

        running = list(self.running.values())
        ready = [r for r in self.waiting if self.cap is None or running.count(r.tenant) < self.cap]
        self.now += 1
        if not ready:
            return None
        best = min(ready, key=effective)
        self.waiting.remove(best)
        self.running[best.request_id] = best.tenant
        return best.request_id

    def cancel(self, request_id: int) -> bool:
        before = len(self.waiting)
        self.waiting = [r for r in self.waiting if r.request_id != request_id]
        return len(self.waiting) < before

    def is_waiting(self, request_id: int) -> bool:
        return any(r.request_id == request_id for r in self.waiting)


def test_the_docstring_example() -> None:
    s = RequestScheduler(2)
    for rid, priority in [(1, 3), (2, 2), (3, 2)]:
        s.submit(rid, priority, "t")
    got = [s.pop()]
    s.submit(4, 2, "t")
    got.append(s.pop())
    s.submit(5, 2, "t")
    got += [s.pop(), s.pop()]
    assert got == [2, 3, 4, 1]
    assert len(s) == 1 and s.pop() == 5 and s.pop() is None


def test_without_aging_the_order_is_the_standard_priority_queue_s() -> None:
    rng = random.Random(0)
    s = RequestScheduler(10**9)  # no request waits long enough to move one level
    peer: queue.PriorityQueue[tuple[int, int, int]] = queue.PriorityQueue()
    ids = rng.sample(range(10**6), 2000)
    for n, rid in enumerate(ids):
        priority = rng.randint(-5, 5)
        s.submit(rid, priority, f"t{rid % 7}")
        peer.put((priority, n, rid))
    got = [s.pop() for _ in ids]
    want = [peer.get()[2] for _ in ids]
    assert got == want


def test_aging_matches_the_literal_rule_on_a_long_stream() -> None:
    rng = random.Random(1)
    for interval in (1, 3, 7):
        s, m = RequestScheduler(interval), LiteralScheduler(interval)
        next_id = 0
        for _ in range(600):
            for _ in range(rng.randint(0, 2)):
                priority = rng.randint(0, 6)
                s.submit(next_id, priority, "t")
                m.submit(next_id, priority, "t")
                next_id += 1
            assert s.pop() == m.pop()


def test_heavy_cancellation_rebuilds_the_heap_and_keeps_the_order() -> None:
    rng = random.Random(2)
    s, m = RequestScheduler(5), LiteralScheduler(5)
    for rid in range(1000):
        priority = rng.randint(0, 50)
        s.submit(rid, priority, "t")
        m.submit(rid, priority, "t")
    for rid in rng.sample(range(1000), 900):
        assert s.cancel(rid) and m.cancel(rid)
    assert len(s.tenants["t"].heap) < 500, "dead entries must not pile up"
    assert [s.pop() for _ in range(101)] == [m.pop() for _ in range(101)]


def test_superseded_heads_do_not_pile_up() -> None:
    s = RequestScheduler(1)
    for rid in range(1000):  # every submit is its tenant's new best: a new head each time
        s.submit(rid, -rid, f"t{rid % 3}")
    assert len(s.heads) < 100
    assert [s.pop() for _ in range(3)] == [999, 998, 997]


def test_a_capped_tenant_costs_no_heap_work() -> None:
    s = RequestScheduler(1, 1)
    for rid in range(10_000):
        s.submit(rid, -1, "hog")
    assert s.pop() == 0
    s.submit(-1, 5, "other")
    assert s.pop() == -1
    assert "hog" not in s.offered, "a tenant at its cap has no head"
    assert s.pop() is None
    s.finish(0)
    assert s.pop() == 1


@pytest.mark.parametrize(("interval", "cap"), [(0, None), (1, 0)])
def test_bad_settings_raise(interval: int, cap: int | None) -> None:
    with pytest.raises(ValueError):
        RequestScheduler(interval, cap)


class SchedulerMachine(RuleBasedStateMachine):
    """Every operation against the literal model, with heap rebuilds from 4 entries on;
    ids from a pool of 40, so they are cancelled, finished and submitted again."""

    def __init__(self) -> None:
        super().__init__()
        self.s = RequestScheduler(1)
        self.m = LiteralScheduler(1)

    @initialize(interval=st.sampled_from([1, 2, 5]), cap=st.sampled_from([None, 1, 3]))
    def make(self, interval: int, cap: int | None) -> None:
        self.s, self.m = RequestScheduler(interval, cap), LiteralScheduler(interval, cap)
        self.s.min_rebuild = 4  # rebuild small heaps too, so that runs exercise it

    @rule(
        ids=st.lists(st.integers(0, 39), min_size=1, max_size=30),
        priority=st.integers(-3, 3),
        tenant=st.sampled_from("ab"),
    )
    def submit_many(self, ids: list[int], priority: int, tenant: str) -> None:
        for rid in ids:
            if self.m.is_waiting(rid) or rid in self.m.running:
                with pytest.raises(ValueError):
                    self.s.submit(rid, priority, tenant)
            else:
                self.s.submit(rid, priority, tenant)
                self.m.submit(rid, priority, tenant)

    @rule(n=st.integers(1, 8))
    def pop(self, n: int) -> None:
        for _ in range(n):
            assert self.s.pop() == self.m.pop()

    @rule(ids=st.lists(st.integers(0, 39), min_size=1, max_size=30))
    def cancel_many(self, ids: list[int]) -> None:
        for rid in ids:
            assert self.s.cancel(rid) == self.m.cancel(rid)

    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        if self.m.running:
            rid = data.draw(st.sampled_from(sorted(self.m.running)))
            self.s.finish(rid)
            del self.m.running[rid]
        else:
            with pytest.raises(KeyError):
                self.s.finish(0)

    @invariant()
    def same_waiting_count(self) -> None:
        assert len(self.s) == len(self.m.waiting)


SchedulerMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
test_reference_matches_the_literal_model = SchedulerMachine.TestCase
