"""Continuous batching, one scheduler step at a time: see PROMPT.md for the full statement."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class ScheduledStep:
    scheduled: dict[int, int] = field(default_factory=dict)  # id -> tokens, in step order
    preempted: list[int] = field(default_factory=list)  # in the order they were preempted


@dataclass
class Request:
    id: int
    num_tokens: int  # known: the prompt, then every generated token
    max_new_tokens: int
    generated: int = 0
    num_computed: int = 0  # in the KV cache
    blocks: int = 0  # ceil(num_computed / block_size), plus what this step took


class Scheduler:
    def __init__(
        self, *, token_budget: int, num_blocks: int, block_size: int, max_running: int
    ) -> None:
        if min(token_budget, num_blocks, block_size, max_running) < 1:
            raise ValueError("token_budget, num_blocks, block_size, max_running must be >= 1")
        self.token_budget = token_budget
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.max_running = max_running
        self.free_blocks = num_blocks
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []  # admission order: the newest is last
        self.live: dict[int, Request] = {}

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def add_request(self, request_id: int, prompt_len: int, max_new_tokens: int) -> None:
        if request_id in self.live:
            raise ValueError(f"request {request_id} is already waiting or running")
        if prompt_len < 1 or max_new_tokens < 1:
            raise ValueError(f"prompt_len {prompt_len}, max_new_tokens {max_new_tokens}: >= 1")
        # The last generated token is never computed: at most prompt + max_new - 1 in cache.
        if self.blocks_for(prompt_len + max_new_tokens - 1) > self.num_blocks:
            raise ValueError(f"request {request_id} can never fit in {self.num_blocks} blocks")
        request = Request(request_id, prompt_len, max_new_tokens)
        self.live[request_id] = request
        self.waiting.append(request)

    @property
    def has_work(self) -> bool:
        return bool(self.live)

    def schedule(self) -> ScheduledStep:
        step = ScheduledStep()
        budget = self.token_budget
        i = 0
        while i < len(self.running) and budget > 0:
            request = self.running[i]
            n = min(request.num_tokens - request.num_computed, budget)
            need = self.blocks_for(request.num_computed + n) - request.blocks
            while need > self.free_blocks:
                victim = self.running.pop()  # the newest; never one already scheduled
                self.preempt(victim, step)
                if victim is request:
                    break
            if request not in self.running:
                break  # it was the newest: nothing runs after it
            self.take(request, n, need, step)
            budget -= n
            i += 1
        if step.preempted:
            return step  # memory is short: admitting now would only preempt again
        while self.waiting and budget > 0 and len(self.running) < self.max_running:
            head = self.waiting[0]
            n = min(head.num_tokens, budget)
            need = self.blocks_for(n)
            if need > self.free_blocks:
                break  # first come first served: nobody overtakes the head
            self.running.append(self.waiting.popleft())
            self.take(head, n, need, step)
            budget -= n
        return step

    def update(self, step: ScheduledStep, stopped: Iterable[int] = ()) -> list[int]:
        stop = set(stopped)
        finished = []
        for request_id, n in step.scheduled.items():
            request = self.live[request_id]
            request.num_computed += n
            if request.num_computed < request.num_tokens:
                continue  # a prefill chunk: no token yet
            request.num_tokens += 1
            request.generated += 1
            if request.generated == request.max_new_tokens or request_id in stop:
                self.free_blocks += request.blocks
                self.running.remove(request)
                del self.live[request_id]
                finished.append(request_id)
        return finished

    def preempt(self, victim: Request, step: ScheduledStep) -> None:
        """Free its blocks and queue it first; it recomputes everything it knows."""
        self.free_blocks += victim.blocks
        victim.blocks = 0
        victim.num_computed = 0
        self.waiting.appendleft(victim)  # victims go newest first: the oldest ends in front
        step.preempted.append(victim.id)

    def take(self, request: Request, n: int, need: int, step: ScheduledStep) -> None:
        self.free_blocks -= need
        request.blocks += need
        step.scheduled[request.id] = n
