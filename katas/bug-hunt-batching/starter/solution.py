"""One step of a continuous-batching scheduler, in the style of vLLM's v1 scheduler.

The engine loop around this file is:

    scheduler.add(request)                       # new arrivals, between steps
    plan = scheduler.step()                      # which requests run, how many tokens each
    sampled = model_runner.execute(plan)         # one forward over exactly those tokens
    finished = scheduler.update(plan, sampled)   # count them in, retire what is done

The scheduler only counts: tokens per request, and KV blocks per request (the model
runner owns the tensors). A request knows `num_tokens` tokens (its prompt, then every
token it generated) and has `num_computed_tokens` of them in the KV cache. Each step
computes, per scheduled request, some of what it knows and has not computed: the rest
of its prompt (chunked to whatever token budget is left), or its newest token (a decode).

Policy:
- Running requests go first, oldest admission first, while token budget is left.
- When the free blocks cannot cover a running request, the most recently admitted
  running request is preempted: its blocks are freed, its computed tokens drop to 0
  (it is recomputed from scratch later) and it goes back to the front of the waiting
  queue. A step that preempted admits nothing new.
- Then waiting requests are admitted first come first served while the token budget,
  the free blocks and `max_running` allow; the head of the queue blocks the rest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["BlockManager", "Request", "Scheduler", "StepPlan"]

WAITING = "waiting"
RUNNING = "running"
FINISHED = "finished"


@dataclass
class Request:
    """A generation request. `arrival` is set by `Scheduler.add` (0, 1, 2, ...)."""

    request_id: int
    prompt_token_ids: list[int]
    max_new_tokens: int
    eos_token_id: int | None = None
    output_token_ids: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    status: str = WAITING
    arrival: int = -1

    @property
    def num_prompt_tokens(self) -> int:
        return len(self.prompt_token_ids)

    @property
    def num_tokens(self) -> int:
        """Every token the request knows: its prompt, then what it generated."""
        return len(self.prompt_token_ids) + len(self.output_token_ids)

    @property
    def is_finished(self) -> bool:
        return self.status == FINISHED

    def append_output(self, token_id: int) -> None:
        self.output_token_ids.append(token_id)
        if token_id == self.eos_token_id or len(self.output_token_ids) >= self.max_new_tokens:
            self.status = FINISHED


@dataclass
class StepPlan:
    """What one step computes.

    `num_scheduled_tokens` maps request id -> tokens this step, in the order the step
    scheduled them (running requests by admission, then the newly admitted ones);
    `preempted_ids` lists the requests preempted in this step, in the order preempted.
    """

    num_scheduled_tokens: dict[int, int] = field(default_factory=dict)
    preempted_ids: list[int] = field(default_factory=list)

    @property
    def total_num_scheduled_tokens(self) -> int:
        return sum(self.num_scheduled_tokens.values())


class BlockManager:
    """Counts KV blocks of `block_size` tokens: how many each request holds, how many are free."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.num_free_blocks = num_blocks
        self._held: dict[int, int] = {}  # request id -> blocks it holds

    def blocks_needed(self, num_tokens: int) -> int:
        """Blocks that hold `num_tokens` tokens: a partly filled last block counts whole."""
        return (num_tokens + self.block_size - 1) // self.block_size

    def num_blocks_of(self, request_id: int) -> int:
        return self._held.get(request_id, 0)

    def can_allocate(self, request_id: int, num_tokens: int) -> bool:
        """Whether the free blocks cover `request_id` growing to `num_tokens` cached tokens."""
        extra = self.blocks_needed(num_tokens) - self.num_blocks_of(request_id)
        return extra <= self.num_free_blocks

    def allocate(self, request_id: int, num_tokens: int) -> None:
        """Grow `request_id`'s blocks to cover `num_tokens` tokens (it never shrinks)."""
        extra = self.blocks_needed(num_tokens) - self.num_blocks_of(request_id)
        if extra <= 0:
            return
        if extra > self.num_free_blocks:
            raise RuntimeError(
                f"request {request_id} needs {extra} more blocks, {self.num_free_blocks} are free"
            )
        self.num_free_blocks -= extra
        self._held[request_id] = self.num_blocks_of(request_id) + extra

    def free(self, request_id: int) -> None:
        self.num_free_blocks += self._held.pop(request_id, 0)


class Scheduler:
    """Continuous batching under a per-step token budget and a pool of KV blocks."""

    def __init__(
        self, token_budget: int, num_blocks: int, block_size: int, max_running: int
    ) -> None:
        if min(token_budget, num_blocks, block_size, max_running) < 1:
            raise ValueError("token_budget, num_blocks, block_size and max_running must be >= 1")
        self.token_budget = token_budget  # max_num_batched_tokens: tokens per step
        self.max_running = max_running  # max_num_seqs: requests running at once
        self.blocks = BlockManager(num_blocks, block_size)
        self.waiting: deque[Request] = deque()  # FCFS; preempted requests go to the front
        self.running: list[Request] = []  # in admission order, the newest last
        self.requests: dict[int, Request] = {}  # every waiting or running request
        self._arrivals = 0

    # -- the engine's calls -------------------------------------------------------------

    def add(self, request: Request) -> None:
        """Queue a new request at the back of the waiting queue."""
        if request.request_id in self.requests:
            raise ValueError(f"request {request.request_id} is already waiting or running")
        if request.num_prompt_tokens < 1 or request.max_new_tokens < 1:
            raise ValueError("a request needs a prompt and max_new_tokens >= 1")
        # At its longest a request has computed every token but its last one.
        longest = request.num_prompt_tokens + request.max_new_tokens - 1
        if self.blocks.blocks_needed(longest) > self.blocks.num_blocks:
            raise ValueError(
                f"request {request.request_id} can never fit {self.blocks.num_blocks} blocks"
            )
        request.status = WAITING
        request.num_computed_tokens = 0
        request.arrival = self._arrivals
        self._arrivals += 1
        self.requests[request.request_id] = request
        self.waiting.append(request)

    def step(self) -> StepPlan:
        """Decide what the next forward pass computes, and reserve its blocks."""
        plan = StepPlan()
        budget = self.token_budget

        # 1. Running requests, oldest admission first: decodes, and the rest of any
        #    prompt that an earlier step only prefilled in part.
        i = 0
        while i < len(self.running) and budget > 0:
            request = self.running[i]
            num_new = min(request.num_tokens - request.num_computed_tokens, budget)
            if not self._reserve(request, num_new, plan):
                break  # it was the newest running request and had to preempt itself
            plan.num_scheduled_tokens[request.request_id] = num_new
            budget -= num_new
            i += 1

        # 2. A step that preempted admits nothing: the victims need those blocks back
        #    first, and admitting now would only make the next step preempt again.
        if plan.preempted_ids:
            return plan

        # 3. Admission, first come first served, with chunked prefill.
        while self.waiting and budget > 0 and len(self.running) < self.max_running:
            request = self.waiting[0]
            num_new = min(request.num_tokens - request.num_computed_tokens, self.token_budget)
            if not self.blocks.can_allocate(
                request.request_id, request.num_computed_tokens + num_new
            ):
                break  # the head waits for blocks, and nothing behind it overtakes it
            self.waiting.popleft()
            self.blocks.allocate(request.request_id, request.num_computed_tokens + num_new)
            request.status = RUNNING
            self.running.append(request)
            plan.num_scheduled_tokens[request.request_id] = num_new
            budget -= num_new
        return plan

    def update(self, plan: StepPlan, sampled_tokens: Mapping[int, int]) -> list[int]:
        """Count the step's tokens in; return the ids that finished, in plan order.

        `sampled_tokens` holds the token the model runner sampled for each request of
        the plan. A request keeps it only if this step computed everything it knew; the
        sample after a prefill chunk that ends inside the prompt is discarded.
        """
        finished: list[int] = []
        for request_id, num_new in plan.num_scheduled_tokens.items():
            request = self.requests[request_id]
            request.num_computed_tokens += num_new
            if request.num_computed_tokens < request.num_tokens:
                continue  # a partial prefill: nothing was sampled for this request
            request.append_output(sampled_tokens[request_id])
            if request.is_finished:
                self.running.remove(request)
                self.blocks.free(request_id)
                del self.requests[request_id]
                finished.append(request_id)
        return finished

    # -- introspection (plain data, for metrics and tests) -------------------------------

    @property
    def has_unfinished_requests(self) -> bool:
        return bool(self.requests)

    @property
    def num_free_blocks(self) -> int:
        return self.blocks.num_free_blocks

    def running_ids(self) -> list[int]:
        return [r.request_id for r in self.running]

    def waiting_ids(self) -> list[int]:
        return [r.request_id for r in self.waiting]

    def num_computed_tokens(self, request_id: int) -> int:
        return self.requests[request_id].num_computed_tokens

    def output_token_ids(self, request_id: int) -> list[int]:
        return list(self.requests[request_id].output_token_ids)

    # -- blocks and preemption ----------------------------------------------------------

    def _reserve(self, request: Request, num_new: int, plan: StepPlan) -> bool:
        """Take the blocks `request` needs for `num_new` more tokens, preempting from the
        newest running request until they are free. False if `request` itself was
        preempted (it was the newest one left)."""
        target = request.num_computed_tokens + num_new
        while not self.blocks.can_allocate(request.request_id, target):
            victim = self.running.pop()  # the most recently admitted
            self._preempt(victim)
            plan.preempted_ids.append(victim.request_id)
            if victim is request:
                return False
        self.blocks.allocate(request.request_id, target)
        return True

    def _preempt(self, request: Request) -> None:
        """Recompute-style preemption: drop the request's KV cache and requeue it first."""
        self.blocks.free(request.request_id)
        request.num_computed_tokens = 0
        request.status = WAITING
        self.waiting.appendleft(request)
