"""A continuous-batching scheduler step under a token budget and a KV-block budget.

The policy of vLLM's v1 scheduler, on token counts alone (the engine owns the tokens):

- A request knows `num_tokens` tokens (its prompt, then every token it generated) and
  has `num_computed` of them in the KV cache. Each step it computes
  `num_tokens - num_computed` more (the rest of its prompt, or its last token), cut to
  what is left of the step's `token_budget`: a long prompt is prefilled in chunks.
- Its blocks cover what it has computed: `ceil(num_computed / block_size)` of them.
  Scheduling n tokens first takes the blocks that `num_computed + n` needs.
- Running requests go first, in the order they were admitted. When the free blocks
  cannot cover one, the most recently admitted running request is preempted: its
  blocks are freed, `num_computed` drops to 0 (everything it knows is recomputed when
  it runs again) and it goes back to the front of the waiting queue. If the request
  being scheduled is itself the most recent, it is the one preempted.
- Then, only if nothing was preempted this step, waiting requests are admitted first
  come first served while the token budget, the block budget and `max_running` allow.
  The head of the queue waits for room; nothing behind it overtakes it.
- After the forward, `update`: each scheduled request has computed its tokens; one
  that has now computed everything it knows produced one new token. It finishes when
  it has `max_new_tokens` of them, or when the engine says a stop token ended it.

Worked example: token_budget 8, 4 blocks of 4 tokens, prompts A (6 tokens) and B (5).
Step 1 admits A (6 tokens, 2 blocks) and B for the 2 tokens the budget has left (1
block); A emits. Step 2: A decodes 1 token (7 of its 8 slots) and B computes its last 3
(a second block: the pool is full); both emit. Step 3: both decode within their blocks
and emit. Step 4: A's 9th token needs a third block and none is free, so B, the newest,
is preempted (2 blocks freed, its 7 known tokens to be recomputed); A takes a block, and
nothing is admitted in this step.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["ScheduledStep", "Scheduler"]


@dataclass
class ScheduledStep:
    """What one step computes: tokens per request, in order (running, then admitted)."""

    scheduled: dict[int, int] = field(default_factory=dict)
    preempted: list[int] = field(default_factory=list)  # in the order they were preempted


@dataclass
class _Request:
    id: int
    num_tokens: int  # known: prompt + generated
    max_new_tokens: int
    generated: int = 0
    num_computed: int = 0
    blocks: int = 0


class Scheduler:
    def __init__(
        self, *, token_budget: int, num_blocks: int, block_size: int, max_running: int
    ) -> None:
        if min(token_budget, num_blocks, block_size, max_running) < 1:
            raise ValueError("token_budget, num_blocks, block_size and max_running must be >= 1")
        self.token_budget = token_budget
        self.num_blocks, self.block_size = num_blocks, block_size
        self.max_running = max_running
        self.free_blocks = num_blocks
        self.waiting: deque[_Request] = deque()
        self.running: list[_Request] = []  # in admission order
        self._all: dict[int, _Request] = {}

    def add_request(self, request_id: int, prompt_len: int, max_new_tokens: int) -> None:
        """Queue a request. It must fit the pool alone at its longest, or it could never
        finish: `ceil((prompt_len + max_new_tokens - 1) / block_size) <= num_blocks`."""
        if request_id in self._all:
            raise ValueError(f"request {request_id} is already queued or running")
        if prompt_len < 1 or max_new_tokens < 1:
            raise ValueError("prompt_len and max_new_tokens must be >= 1")
        if self._blocks_for(prompt_len + max_new_tokens - 1) > self.num_blocks:
            raise ValueError(f"request {request_id} can never fit {self.num_blocks} blocks")
        request = _Request(request_id, prompt_len, max_new_tokens)
        self._all[request_id] = request
        self.waiting.append(request)

    @property
    def has_work(self) -> bool:
        return bool(self._all)

    def schedule(self) -> ScheduledStep:
        step = ScheduledStep()
        budget = self.token_budget
        i = 0
        while i < len(self.running) and budget > 0:
            request = self.running[i]
            n = min(request.num_tokens - request.num_computed, budget)
            if not self._make_room(request, n, step):
                break  # `request` itself was preempted: it was the last one running
            self._take(request, n, step)
            budget -= n
            i += 1
        if step.preempted:
            return step
        while self.waiting and budget > 0 and len(self.running) < self.max_running:
            request = self.waiting[0]
            n = min(request.num_tokens, budget)
            if self._blocks_for(n) > self.free_blocks:
                break
            self.running.append(self.waiting.popleft())
            self._take(request, n, step)
            budget -= n
        return step

    def update(self, step: ScheduledStep, stopped: Iterable[int] = ()) -> list[int]:
        """Count the step's tokens in; the ids of requests that finished (freed)."""
        stop = set(stopped)
        finished = []
        for request_id, n in step.scheduled.items():
            request = self._all[request_id]
            request.num_computed += n
            if request.num_computed < request.num_tokens:
                continue  # a prefill chunk that ends inside the known tokens
            request.generated += 1
            request.num_tokens += 1
            if request.generated >= request.max_new_tokens or request_id in stop:
                self._free(request)
                self.running.remove(request)
                del self._all[request_id]
                finished.append(request_id)
        return finished

    # -- blocks ------------------------------------------------------------------------

    def _blocks_for(self, tokens: int) -> int:
        return math.ceil(tokens / self.block_size)

    def _make_room(self, request: _Request, n: int, step: ScheduledStep) -> bool:
        """Preempt from the newest until `request` can have its blocks; False if it was
        preempted itself."""
        need = self._blocks_for(request.num_computed + n) - request.blocks
        while need > self.free_blocks:
            victim = self.running.pop()
            self._free(victim)
            victim.num_computed = 0
            self.waiting.appendleft(victim)
            step.preempted.append(victim.id)
            if victim is request:
                return False
        return True

    def _take(self, request: _Request, n: int, step: ScheduledStep) -> None:
        new = self._blocks_for(request.num_computed + n) - request.blocks
        self.free_blocks -= new
        request.blocks += new
        step.scheduled[request.id] = n

    def _free(self, request: _Request) -> None:
        self.free_blocks += request.blocks
        request.blocks = 0
