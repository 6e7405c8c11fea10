"""Request scheduler: time per operation at 2k and 32k waiting requests.

    python -m benchmarks request_scheduler

One round is a queue's churn over a steady backlog: 8 submits and 8 pops (the new
requests sort first, so the backlog stays), plus, where the queue supports it, 8
cancels of backlog requests replaced by 8 new ones. The peers are the standard
library's heaps with vLLM's priority order, (priority, arrival), and no aging, cap or
cancellation: `heapq` on a list, and `queue.PriorityQueue` (the same heap behind a
lock). They are what the reference's extra rules cost against. The contrast is the
literal scheduler that scans the waiting requests on each pop (O(n)).
"""

from __future__ import annotations

import heapq
import queue
from collections import deque
from collections.abc import Callable

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.request_scheduler import RequestScheduler

SIZES = [2_000, 32_000]
PER_ROUND = 8
BACKLOG_PRIORITY = 10**6  # far behind the new requests: aging never reaches it here


class ScanScheduler:
    """Aging and cancellation as stated, with a dict scanned on each pop: O(n)."""

    def __init__(self, aging_interval: int) -> None:
        self.interval = aging_interval
        self.now = self.submitted = 0
        self.waiting: dict[int, tuple[int, int]] = {}  # id -> (key, submission number)

    def submit(self, request_id: int, priority: int, tenant: str) -> None:
        self.waiting[request_id] = (priority * self.interval + self.now, self.submitted)
        self.submitted += 1

    def pop(self) -> int | None:
        self.now += 1
        if not self.waiting:
            return None
        best = min(self.waiting, key=self.waiting.__getitem__)
        del self.waiting[best]
        return best

    def cancel(self, request_id: int) -> bool:
        return self.waiting.pop(request_id, None) is not None


Scheduler = RequestScheduler | ScanScheduler


def scheduler_round(s: Scheduler, size: int, cancels: bool, capped: bool) -> Callable[[], int]:
    """Fill `s` with `size` waiting requests; return one round of churn over them."""
    start = 0
    if capped:  # a quarter of the backlog belongs to a tenant at its cap of 2
        for k in range(size // 4 + 2):
            s.submit(-1 - k, -1, "hog")
        s.pop()
        s.pop()
        start = size // 4
    for k in range(start, size):
        s.submit(k, BACKLOG_PRIORITY, f"t{k % 500}")
    backlog = deque(range(start, size))  # oldest first: each cancel takes the oldest
    state = {"next": size}

    def round_() -> int:
        n = state["next"]
        for j in range(PER_ROUND):
            s.submit(n + j, 0, f"t{j}")
        if cancels:
            for j in range(PER_ROUND):
                s.cancel(backlog.popleft())
                s.submit(n + PER_ROUND + j, BACKLOG_PRIORITY, "t0")
                backlog.append(n + PER_ROUND + j)
        got = 0
        for _ in range(PER_ROUND):
            got += s.pop() is not None
        if isinstance(s, RequestScheduler) and s.cap is not None:
            for j in range(PER_ROUND):
                s.finish(n + j)
        state["next"] = n + 2 * PER_ROUND
        return got

    return round_


def heapq_round(size: int) -> Callable[[], int]:
    heap = [(BACKLOG_PRIORITY, k, k) for k in range(size)]
    heapq.heapify(heap)
    state = {"next": size}

    def round_() -> int:
        n = state["next"]
        for j in range(PER_ROUND):
            heapq.heappush(heap, (0, n + j, n + j))
        got = sum(heapq.heappop(heap)[2] >= 0 for _ in range(PER_ROUND))
        state["next"] = n + PER_ROUND
        return got

    return round_


def priority_queue_round(size: int) -> Callable[[], int]:
    q: queue.PriorityQueue[tuple[int, int, int]] = queue.PriorityQueue()
    for k in range(size):
        q.put_nowait((BACKLOG_PRIORITY, k, k))
    state = {"next": size}

    def round_() -> int:
        n = state["next"]
        for j in range(PER_ROUND):
            q.put_nowait((0, n + j, n + j))
        got = sum(q.get_nowait()[2] >= 0 for _ in range(PER_ROUND))
        state["next"] = n + PER_ROUND
        return got

    return round_


def run(device: str) -> Section:
    section = Section(
        name="request_scheduler",
        title="Request scheduler: the reference against the standard library's heaps",
        headers=["round", "waiting", "other queue", "its time per op", "reference", "ratio"],
    )
    for size in SIZES:
        plain = scheduler_round(RequestScheduler(1), size, cancels=False, capped=False)
        churn = scheduler_round(RequestScheduler(1), size, cancels=True, capped=False)
        # (round, ops per round, other queue, its round, the reference's same round)
        rows: list[tuple[str, int, str, Callable[[], int], Callable[[], int]]] = [
            ("submit, pop", 2, "heapq (priority, arrival)", heapq_round(size), plain),
            ("submit, pop", 2, "queue.PriorityQueue", priority_queue_round(size), plain),
            (
                "submit, cancel, pop",
                4,
                "scan per pop",
                scheduler_round(ScanScheduler(1), size, cancels=True, capped=False),
                churn,
            ),
            (
                "submit, cancel, pop (+ finish)",
                4,
                "reference, cap 2",
                scheduler_round(RequestScheduler(1, 2), size, cancels=True, capped=True),
                churn,
            ),
        ]
        for work, ops, name, other, ours in rows:
            c = compare(other, ours, max_s=2.0)  # side by side, the same round
            per_op = ops * PER_ROUND
            section.add(
                work, f"{size:,}", name, fmt_s(c.a_s / per_op), fmt_s(c.b_s / per_op),
                fmt_ratio(c.ratio),
            )  # fmt: skip
    section.notes.append(
        f"One round: {PER_ROUND} submits that sort first and {PER_ROUND} pops; with cancels, "
        f"also {PER_ROUND} cancels of backlog requests and {PER_ROUND} submits replacing them. "
        "Times per operation; ratio = the other queue's time over the reference's on the same "
        "round, timed side by side. The peers keep vLLM's (priority, arrival) order with no "
        "aging, cap or cancellation: what those rules cost. The capped row runs the same round "
        f"with a cap of 2 running per tenant, a quarter of the backlog held by a tenant at its "
        f"cap, and {PER_ROUND} finishes more (not counted as operations), against the uncapped "
        "reference. Pure Python on the CPU: `--device` does not apply."
    )
    return section
