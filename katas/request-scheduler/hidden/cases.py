"""Speed case: a serving queue's churn over a steady backlog of `size` waiting requests.

The backlog (built once, not timed), with a cap of 2 running requests per tenant:
- "hog": a quarter of the backlog at the best priority, and 2 requests running: at its
  cap, so none of its requests may be chosen;
- "bulk": a quarter at the worst priority, never chosen; the calls cancel them;
- the other half, 4 each over size / 8 tenants, at a middle priority, never chosen.

One timed call is one round trip (`batch`) of 48 operations: finish the 8 requests the
previous call ran; submit 8 priority-0 requests to 8 of the many tenants; cancel 8 bulk
requests spread through bulk's backlog (a fixed shuffle of its slots) and submit 8
new ones in their place; then 8 times pop and len() (the pops return the 8 new
priority-0 requests, in submission order: their tenants are below the cap and
everything else sorts after them or is capped). The backlog stays at `size` waiting
requests, and every call's results (pops, cancels, lens) are compared with the
reference's.

So the work per call is the same at every size, and an O(log n) scheduler takes about
the same time at 2,000 and 32,000 waiting requests, while one that, on each pop, scans
the waiting requests (or steps over the capped tenant's) or the tenants, that
rebuilds a heap on each cancel, or that counts the waiting requests on each len(),
pays for the whole backlog (figures in kata.yaml).

Every kind of operation comes 8 times a call, so none is diluted in the mix: each
operation crosses the channel to the worker, 15-25 us apiece on a busy 2-core CPU (about
1 ms a call, ten times the reference's own work), and an O(n) operation must outweigh
that. A len() that counts 32,000 requests in a Python loop takes 1.6-4 ms: once a call
it stayed within both budgets; 8 times a call it is over 10x the channel. The
priorities are far apart (10**6) so that aging never reorders the backlog in the
number of ticks a measurement takes (8 per call).
"""

from __future__ import annotations

import random
from typing import Any

from grader.judge.measuring import Case
from grader.judge.remote import RemoteMethod, batch

CAP = 2
POPS = 8  # priority-0 requests submitted, popped (each pop followed by len) and finished per call
CANCELS = 8  # bulk requests cancelled and replaced per call
PER_TENANT = 4  # backlog requests of each of the many tenants
CHUNK = 2000  # setup operations per round trip

HOG, MANY, BULK, FRESH = 0, 10**7, 2 * 10**7, 10**9  # id ranges
BEST, MIDDLE, WORST = -(10**6), 10**6, 2 * 10**6


def _setup(s: Any, size: int) -> tuple[int, int, list[int]]:
    """Build the backlog; returns (bulk slots, many tenants, bulk slot order)."""
    quarter = size // 4
    n_many = size // 2 // PER_TENANT
    ops: list[tuple[Any, tuple[Any, ...]]] = []
    ops += [(s.submit, (HOG + k, BEST, "hog")) for k in range(quarter + CAP)]
    ops += [(s.pop, ())] * CAP  # hog runs two requests: at its cap from now on
    ops += [(s.submit, (MANY + k, MIDDLE, f"m{k % n_many}")) for k in range(n_many * PER_TENANT)]
    ops += [(s.submit, (BULK + slot, WORST, "bulk")) for slot in range(quarter)]
    for start in range(0, len(ops), CHUNK):
        batch(ops[start : start + CHUNK])
    order = list(range(quarter))
    random.Random(0).shuffle(order)
    return quarter, n_many, order


def speed_case(impl: Any, device: str, size: int | None) -> Case:
    n = size or 32_000
    s = impl.RequestScheduler(1, CAP)
    slots, n_many, order = _setup(s, n)
    submit, pop, cancel, finish = s.submit, s.pop, s.cancel, s.finish
    length = RemoteMethod(s, "__len__")  # len(s), as a call a batch can carry

    def bulk_id(k: int) -> int:
        """The k-th bulk request cancelled: slot order[k % slots], generation k // slots
        (generation 0 was submitted in the setup, each later one when the previous was
        cancelled)."""
        return BULK + (k // slots) * slots + order[k % slots]

    def inputs(i: int) -> tuple[Any, ...]:
        calls: list[tuple[Any, tuple[Any, ...]]] = []
        if i > 0:
            calls += [(finish, (FRESH + (i - 1) * POPS + j,)) for j in range(POPS)]
        calls += [
            (submit, (FRESH + i * POPS + j, 0, f"m{(i * POPS + j) % n_many}")) for j in range(POPS)
        ]
        for j in range(CANCELS):
            k = i * CANCELS + j
            calls.append((cancel, (bulk_id(k),)))
            calls.append((submit, (bulk_id(k + slots), WORST, "bulk")))
        for _ in range(POPS):
            calls += [(pop, ()), (length, ())]
        return (calls,)

    return Case(batch, inputs)
