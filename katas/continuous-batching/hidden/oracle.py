"""A slow, literal model of the scheduler: the oracle of the stateful test.

It keeps no block counters: the blocks a running request holds are recomputed from
their definition, `ceil((num_computed + tokens scheduled this step) / block_size)`, and
the free blocks are the pool minus their sum. The running order is the order of an
admission counter, the newest running request the one with the largest. Each rule of
PROMPT.md is one short passage below, in the prompt's words; nothing is shared with a
solution's bookkeeping.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Req:
    id: int
    num_tokens: int
    max_new_tokens: int
    generated: int = 0
    num_computed: int = 0
    admitted_at: int = -1  # admission counter when last admitted; -1 while waiting


class SlowScheduler:
    def __init__(
        self, token_budget: int, num_blocks: int, block_size: int, max_running: int
    ) -> None:
        self.token_budget = token_budget
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.max_running = max_running
        self.waiting: list[Req] = []  # the front first
        self.live: dict[int, Req] = {}
        self.this_step: dict[int, int] = {}  # what the current step scheduled
        self.admissions = 0

    # -- what the prompt defines --------------------------------------------------------

    def running(self) -> list[Req]:
        """Admission order, the newest last."""
        return sorted((r for r in self.live.values() if r.admitted_at >= 0),
                      key=lambda r: r.admitted_at)  # fmt: skip

    def blocks_held(self, r: Req) -> int:
        return math.ceil((r.num_computed + self.this_step.get(r.id, 0)) / self.block_size)

    def free_blocks(self) -> int:
        return self.num_blocks - sum(self.blocks_held(r) for r in self.running())

    def has_work(self) -> bool:
        return bool(self.live)

    def rejects(self, request_id: int, prompt_len: int, max_new_tokens: int) -> bool:
        """Whether add_request must raise ValueError."""
        return (
            request_id in self.live
            or prompt_len < 1
            or max_new_tokens < 1
            or math.ceil((prompt_len + max_new_tokens - 1) / self.block_size) > self.num_blocks
        )

    # -- the calls ------------------------------------------------------------------------

    def add_request(self, request_id: int, prompt_len: int, max_new_tokens: int) -> None:
        assert not self.rejects(request_id, prompt_len, max_new_tokens)
        r = Req(request_id, prompt_len, max_new_tokens)
        self.live[request_id] = r
        self.waiting.append(r)

    def schedule(self) -> tuple[dict[int, int], list[int]]:
        self.this_step = {}
        preempted: list[Req] = []
        budget = self.token_budget
        # Running requests first, oldest admission first, while budget is left.
        for r in self.running():
            if budget == 0 or r.admitted_at < 0:
                break  # out of budget, or r was preempted to make room for an older one
            n = min(r.num_tokens - r.num_computed, budget)
            extra = math.ceil((r.num_computed + n) / self.block_size) - self.blocks_held(r)
            while extra > self.free_blocks():
                victim = self.running()[-1]  # the most recently admitted
                victim.num_computed = 0
                victim.admitted_at = -1
                preempted.append(victim)
                if victim is r:
                    break
            if r.admitted_at < 0:
                break  # r itself was the newest: nothing after it is running
            self.this_step[r.id] = n
            budget -= n
        if preempted:
            # Back to the front of the queue, in the order they had been admitted (the
            # victims went newest first, so that is the reverse of preemption order).
            self.waiting = preempted[::-1] + self.waiting
            return dict(self.this_step), [r.id for r in preempted]
        # Admission, first come first served; the head waits for room and blocks the rest.
        while self.waiting and budget > 0 and len(self.running()) < self.max_running:
            head = self.waiting[0]
            n = min(head.num_tokens, budget)
            if math.ceil(n / self.block_size) > self.free_blocks():
                break
            self.waiting.pop(0)
            head.admitted_at = self.admissions
            self.admissions += 1
            self.this_step[head.id] = n
            budget -= n
        return dict(self.this_step), []

    def emits(self, request_id: int) -> bool:
        """Whether the current step makes this request produce a token."""
        r = self.live[request_id]
        return r.num_computed + self.this_step[request_id] == r.num_tokens

    def update(self, stopped: Iterable[int] = ()) -> list[int]:
        finished = []
        for request_id, n in self.this_step.items():
            r = self.live[request_id]
            r.num_computed += n
            if r.num_computed == r.num_tokens:
                r.num_tokens += 1
                r.generated += 1
                if r.generated == r.max_new_tokens or request_id in stopped:
                    del self.live[request_id]
                    finished.append(request_id)
        self.this_step = {}
        return finished
