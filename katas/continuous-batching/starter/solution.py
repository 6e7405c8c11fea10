"""Continuous batching, one scheduler step at a time: see PROMPT.md for the full statement."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class ScheduledStep:
    scheduled: dict[int, int] = field(default_factory=dict)  # request id -> tokens this step
    preempted: list[int] = field(default_factory=list)  # request ids, in the order preempted


class Scheduler:
    """Which requests compute how many tokens each step, under a token budget and a
    pool of KV blocks; running first, then FCFS admission; preempt the newest."""

    free_blocks: int

    def __init__(
        self, *, token_budget: int, num_blocks: int, block_size: int, max_running: int
    ) -> None:
        raise NotImplementedError

    def add_request(self, request_id: int, prompt_len: int, max_new_tokens: int) -> None:
        """Queue a new request at the back; ValueError if it is live, empty or can never fit."""
        raise NotImplementedError

    def schedule(self) -> ScheduledStep:
        """One step: running requests (preempting the newest when blocks run out), then,
        if nothing was preempted, admissions."""
        raise NotImplementedError

    def update(self, step: ScheduledStep, stopped: Iterable[int] = ()) -> list[int]:
        """Count the step's tokens in; the ids of the requests that finished, in step order."""
        raise NotImplementedError

    @property
    def has_work(self) -> bool:
        """True while any request is waiting or running."""
        raise NotImplementedError
