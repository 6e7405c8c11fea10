"""A slow, literal model of the scheduler: the oracle of the stateful test.

It shares nothing with a heap-based scheduler on purpose: every `pop` scans all
waiting requests and computes each one's effective priority at the current tick,
exactly as the prompt words the rule,

    effective = priority - (now - arrival_tick) / aging_interval

as an exact `Fraction` (no rounding, no precomputed key), takes the smallest
(effective, submission number) among the requests whose tenant is below its cap,
and then advances the clock. Cancellation removes the request from the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Waiting:
    request_id: int
    priority: int
    tenant: str
    arrival_tick: int
    number: int  # submissions before this one


class SlowScheduler:
    def __init__(self, aging_interval: int, max_running_per_tenant: int | None = None) -> None:
        self.interval = aging_interval
        self.cap = max_running_per_tenant
        self.now = 0
        self.submitted = 0
        self.waiting: list[Waiting] = []
        self.running: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.waiting)

    def effective(self, r: Waiting) -> Fraction:
        return Fraction(r.priority) - Fraction(self.now - r.arrival_tick, self.interval)

    def may_run(self, tenant: str) -> bool:
        return self.cap is None or list(self.running.values()).count(tenant) < self.cap

    def is_waiting(self, request_id: int) -> bool:
        return any(r.request_id == request_id for r in self.waiting)

    def submit(self, request_id: int, priority: int, tenant: str) -> None:
        assert not self.is_waiting(request_id) and request_id not in self.running
        self.waiting.append(Waiting(request_id, priority, tenant, self.now, self.submitted))
        self.submitted += 1

    def pop(self) -> int | None:
        ready = [r for r in self.waiting if self.may_run(r.tenant)]
        best = min(ready, key=lambda r: (self.effective(r), r.number), default=None)
        self.now += 1
        if best is None:
            return None
        self.waiting.remove(best)
        self.running[best.request_id] = best.tenant
        return best.request_id

    def cancel(self, request_id: int) -> bool:
        found = [r for r in self.waiting if r.request_id == request_id]
        for r in found:
            self.waiting.remove(r)
        return bool(found)

    def finish(self, request_id: int) -> None:
        del self.running[request_id]
