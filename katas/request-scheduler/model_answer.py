"""A priority scheduler for inference requests: see PROMPT.md for the full statement."""

from __future__ import annotations

import heapq

# (key, seq, request_id, tenant). key = priority * aging_interval + arrival tick: every
# waiting request ages at the same rate, so their order never changes and the key is
# fixed at submit. seq (submission order) breaks ties; no two entries share (key, seq).
Entry = tuple[int, int, int, str]


class RequestScheduler:
    def __init__(self, aging_interval: int, max_running_per_tenant: int | None = None) -> None:
        if aging_interval < 1:
            raise ValueError(f"aging_interval must be at least 1, got {aging_interval}")
        if max_running_per_tenant is not None and max_running_per_tenant < 1:
            raise ValueError(
                f"max_running_per_tenant must be at least 1, got {max_running_per_tenant}"
            )
        self.interval = aging_interval
        self.cap = max_running_per_tenant
        self.clock = 0  # pop() calls so far
        self.seq = 0  # submit() calls so far
        self.waiting: dict[int, Entry] = {}  # the live entry of each waiting request
        self.running: dict[int, str] = {}  # request id -> tenant
        self.n_running: dict[str, int] = {}
        # Lazy deletion: a tenant's heap keeps cancelled and popped entries until they
        # reach its top; an entry is live only if it *is* waiting[request_id].
        self.queues: dict[str, list[Entry]] = {}
        # One entry per tenant that may run: its best waiting request (offered[tenant]).
        # Superseded entries stay in the heap and are skipped when they surface.
        self.heads: list[Entry] = []
        self.offered: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self.waiting)

    def _eligible(self, tenant: str) -> bool:
        return self.cap is None or self.n_running.get(tenant, 0) < self.cap

    def _offer(self, tenant: str) -> None:
        """Offer the tenant's best waiting request in the head heap, if the tenant may run."""
        self.offered.pop(tenant, None)
        queue = self.queues.get(tenant)
        if queue is None:
            return
        while queue and self.waiting.get(queue[0][2]) is not queue[0]:
            heapq.heappop(queue)  # cancelled or already popped
        if queue and self._eligible(tenant):
            self.offered[tenant] = queue[0]
            heapq.heappush(self.heads, queue[0])

    def submit(self, request_id: int, priority: int, tenant: str) -> None:
        if request_id in self.waiting or request_id in self.running:
            raise ValueError(f"request {request_id} is already waiting or running")
        entry = (priority * self.interval + self.clock, self.seq, request_id, tenant)
        self.seq += 1
        self.waiting[request_id] = entry
        heapq.heappush(self.queues.setdefault(tenant, []), entry)
        best = self.offered.get(tenant)
        if self._eligible(tenant) and (best is None or entry < best):
            self.offered[tenant] = entry
            heapq.heappush(self.heads, entry)

    def pop(self) -> int | None:
        self.clock += 1  # every call is one tick, whatever it returns
        while self.heads:
            entry = heapq.heappop(self.heads)
            tenant = entry[3]
            if self.offered.get(tenant) is not entry:
                continue  # superseded by a better submit, or the tenant reached its cap
            if self.waiting.get(entry[2]) is entry:
                del self.waiting[entry[2]]
                self.running[entry[2]] = tenant
                self.n_running[tenant] = self.n_running.get(tenant, 0) + 1
                self._offer(tenant)
                return entry[2]
            self._offer(tenant)  # the offered request was cancelled: offer the next one
        return None

    def cancel(self, request_id: int) -> bool:
        return self.waiting.pop(request_id, None) is not None

    def finish(self, request_id: int) -> None:
        tenant = self.running.pop(request_id)  # KeyError unless running
        self.n_running[tenant] -= 1
        if tenant not in self.offered:
            self._offer(tenant)
