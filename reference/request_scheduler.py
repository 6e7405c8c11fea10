"""A priority scheduler for inference requests: priority, aging, cancellation and a cap
on each tenant's running requests, every operation O(log n) amortised.

The rule. A lower priority number runs earlier. Time is logical: every `pop()` is one
tick. A waiting request's effective priority at tick `now` is

    priority - (now - arrival_tick) / aging_interval        (exact, not rounded)

and `pop()` runs the lowest, ties going to the earlier submission. With a cap of k,
requests of a tenant that already has k running are skipped (they keep waiting and
aging) until `finish` frees a slot.

Why one fixed key per request. All waiting requests age at the same rate, so the
difference between two effective priorities never changes; multiplied by
`aging_interval` (positive, so the order is kept):

    effective * aging_interval = priority * aging_interval + arrival_tick - now

and the order is that of `key = priority * aging_interval + arrival_tick`, fixed at
submit, ties by submission number. A heap of (key, seq) gives the next request in
O(log n), with no re-keying as time passes. Rounding the waited intervals down would
break this: the order of two requests would flip back and forth between ticks.

Worked example, aging_interval 2 (key = 2 * priority + arrival):

    submit(1, priority 3) at tick 0    key 6, seq 0
    submit(2, priority 2) at tick 0    key 4, seq 1
    submit(3, priority 2) at tick 0    key 4, seq 2
    pop() at tick 0 -> 2               (4, 1) < (4, 2) < (6, 0)
    submit(4, priority 2) at tick 1    key 5
    pop() at tick 1 -> 3               (4, 2)
    submit(5, priority 2) at tick 2    key 6, seq 4
    pop() at tick 2 -> 4               (5, 3)
    pop() at tick 3 -> 1               (6, 0) < (6, 4): equal effective priorities
                                       (1.5), the earlier submission first

The cap, in O(log n). One heap per tenant holds its waiting requests; a second heap,
`heads`, holds one entry per tenant that may run: the best request it has waiting
(`offered[tenant]`). `pop` takes the best head, so a tenant at its cap costs nothing
however long its backlog: it simply has no head until `finish` frees a slot. (One
global heap would have to step over every request of a capped tenant that sorts
ahead of the next runnable one, on every pop.)

Lazy deletion. `cancel` only forgets the request (`waiting`): its heap entry stays
and is dropped when it reaches the top of its tenant's heap. An entry is live only if
it *is* the entry `waiting` holds for its id, so an id cancelled and submitted again
does not bring its old entry back. A head entry is current only if it *is*
`offered[tenant]`: a better submit or a cap supersedes it in O(1), and it is skipped
when it surfaces. So that dead entries cannot pile up (cancelled requests that never
reach a top), a heap is rebuilt from its live entries once they are under half of it:
O(size) every size / 2 operations, O(1) amortised.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

# (key, seq, request_id, tenant); (key, seq) is unique, so comparisons stop there.
Entry = tuple[int, int, int, str]


@dataclass
class TenantQueue:
    heap: list[Entry] = field(default_factory=list)
    running: int = 0
    dead: int = 0  # entries in `heap` that are no longer waiting


class RequestScheduler:
    min_rebuild = 64  # heaps below this size are never rebuilt: dead entries cost little there

    def __init__(self, aging_interval: int, max_running_per_tenant: int | None = None) -> None:
        if aging_interval < 1:
            raise ValueError(f"aging_interval must be at least 1, got {aging_interval}")
        if max_running_per_tenant is not None and max_running_per_tenant < 1:
            raise ValueError(
                f"max_running_per_tenant must be at least 1 or None, got {max_running_per_tenant}"
            )
        self.aging_interval = aging_interval
        self.cap = max_running_per_tenant
        self.now = 0  # pop() calls so far
        self.submitted = 0  # submit() calls so far: the next submission number
        self.waiting: dict[int, Entry] = {}  # request id -> its live entry
        self.running: dict[int, str] = {}  # request id -> tenant
        self.tenants: dict[str, TenantQueue] = {}
        self.heads: list[Entry] = []
        self.offered: dict[str, Entry] = {}  # tenant -> its current entry in `heads`

    def __len__(self) -> int:
        return len(self.waiting)

    def submit(self, request_id: int, priority: int, tenant: str) -> None:
        if request_id in self.waiting or request_id in self.running:
            raise ValueError(f"request {request_id} is already waiting or running")
        entry = (priority * self.aging_interval + self.now, self.submitted, request_id, tenant)
        self.submitted += 1
        self.waiting[request_id] = entry
        queue = self.tenants.setdefault(tenant, TenantQueue())
        heapq.heappush(queue.heap, entry)
        best = self.offered.get(tenant)
        # A current head is at least as good as every live entry of its tenant, so only
        # a better one replaces it; a stale one is replaced when it surfaces.
        if self._may_run(queue) and (best is None or entry < best):
            self._push_head(tenant, entry)

    def pop(self) -> int | None:
        self.now += 1  # one tick per call, whatever it returns
        while self.heads:
            entry = heapq.heappop(self.heads)
            _, _, request_id, tenant = entry
            if self.offered.get(tenant) is not entry:
                continue  # superseded by a better submit, or the tenant reached its cap
            del self.offered[tenant]
            queue = self.tenants[tenant]
            if self.waiting.get(request_id) is entry:
                del self.waiting[request_id]
                queue.dead += 1  # its entry is still in the tenant's heap
                self.running[request_id] = tenant
                queue.running += 1
                self._offer(tenant, queue)
                return request_id
            self._offer(tenant, queue)  # the offered request was cancelled: the next one
        return None

    def cancel(self, request_id: int) -> bool:
        entry = self.waiting.pop(request_id, None)
        if entry is None:
            return False  # unknown, cancelled, running or finished
        queue = self.tenants[entry[3]]
        queue.dead += 1
        if queue.dead * 2 > len(queue.heap) >= self.min_rebuild:
            self._rebuild(entry[3], queue)
        return True

    def finish(self, request_id: int) -> None:
        tenant = self.running.pop(request_id)  # KeyError unless running
        queue = self.tenants[tenant]
        queue.running -= 1
        if tenant not in self.offered:
            self._offer(tenant, queue)  # it was at its cap: it may run again

    # -- internals ---------------------------------------------------------------------

    def _may_run(self, queue: TenantQueue) -> bool:
        return self.cap is None or queue.running < self.cap

    def _live(self, entry: Entry) -> bool:
        return self.waiting.get(entry[2]) is entry

    def _offer(self, tenant: str, queue: TenantQueue) -> None:
        """Make the tenant's best waiting request its head, if it may run; else no head."""
        self.offered.pop(tenant, None)
        heap = queue.heap
        while heap and not self._live(heap[0]):
            heapq.heappop(heap)
            queue.dead -= 1
        if heap and self._may_run(queue):
            self._push_head(tenant, heap[0])

    def _push_head(self, tenant: str, entry: Entry) -> None:
        self.offered[tenant] = entry
        heapq.heappush(self.heads, entry)
        if len(self.heads) >= self.min_rebuild and len(self.heads) > 2 * len(self.offered):
            # Over half of `heads` is superseded: keep only the current entries.
            self.heads = list(self.offered.values())
            heapq.heapify(self.heads)

    def _rebuild(self, tenant: str, queue: TenantQueue) -> None:
        """Drop the tenant's dead entries. Its current head, if live, is kept as the same
        object, so `offered` stays valid; a cancelled head is still skipped when it
        surfaces in `heads`."""
        queue.heap = [e for e in queue.heap if self._live(e)]
        heapq.heapify(queue.heap)
        queue.dead = 0
