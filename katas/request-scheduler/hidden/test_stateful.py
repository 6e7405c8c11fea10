"""Random operation sequences against the slow literal model (oracle.py).

Every pop must return what the model returns, every cancel the same bool, every
rejected submit and finish must raise where the model says the call is not allowed,
and len() must match after every step. Ids come from a small pool, so they are
cancelled, finished and submitted again; priorities, aging intervals and caps are
small, so ties, aging overtakes and capped tenants are frequent.
"""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from oracle import SlowScheduler

IDS = st.integers(0, 9)
REQUESTS = st.lists(
    st.tuples(IDS, st.integers(-2, 3), st.sampled_from(["a", "b", "c"])), min_size=1, max_size=6
)


class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = SlowScheduler(1)
        self.s: Any = None
        self.log: list[str] = []

    @initialize(
        interval=st.sampled_from([1, 2, 3, 5]),
        cap=st.sampled_from([None, 1, 2]),
        requests=REQUESTS,
    )
    def make(self, interval: int, cap: int | None, requests: list[tuple[int, int, str]]) -> None:
        self.model = SlowScheduler(interval, cap)
        self.s = sol.RequestScheduler(interval, cap)
        self.log = [f"RequestScheduler({interval}, {cap})"]
        self.submit(requests)

    def _where(self) -> str:
        return "after " + "; ".join(self.log[-16:])

    @rule(requests=REQUESTS)
    def submit(self, requests: list[tuple[int, int, str]]) -> None:
        m = self.model
        for request_id, priority, tenant in requests:
            if m.is_waiting(request_id) or request_id in m.running:
                with pytest.raises(ValueError):
                    self.s.submit(request_id, priority, tenant)
                self.log.append(f"submit({request_id}, ...) -> ValueError")
                continue
            m.submit(request_id, priority, tenant)
            self.s.submit(request_id, priority, tenant)
            self.log.append(f"submit({request_id}, {priority}, {tenant!r})")

    @rule(n=st.integers(1, 4))
    def pop(self, n: int) -> None:
        for _ in range(n):
            expected = self.model.pop()
            got = self.s.pop()
            assert got == expected, f"pop() returned {got}, expected {expected}, {self._where()}"
            self.log.append(f"pop() -> {got}")

    @rule(ids=st.lists(IDS, min_size=1, max_size=3))
    def cancel(self, ids: list[int]) -> None:
        for request_id in ids:
            expected = self.model.cancel(request_id)
            got = self.s.cancel(request_id)
            assert got is expected, (
                f"cancel({request_id}) returned {got}, expected {expected}, {self._where()}"
            )
            self.log.append(f"cancel({request_id}) -> {got}")

    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        running = sorted(self.model.running)
        request_id = data.draw(st.sampled_from(running) if running else IDS)
        if request_id not in self.model.running:
            with pytest.raises(KeyError):
                self.s.finish(request_id)
            self.log.append(f"finish({request_id}) -> KeyError")
            return
        self.model.finish(request_id)
        self.s.finish(request_id)
        self.log.append(f"finish({request_id})")

    @invariant()
    def same_number_waiting(self) -> None:
        if self.s is None:
            return
        got, expected = len(self.s), len(self.model)
        assert got == expected, f"len() is {got}, expected {expected}, {self._where()}"


# No shrink phase: shrinking a failing state machine replays it thousands of times
# through the worker; every assertion names the call and the last steps instead.
SchedulerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
)
test_scheduler_matches_a_slow_literal_model = SchedulerMachine.TestCase
