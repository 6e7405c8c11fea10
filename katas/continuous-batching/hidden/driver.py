"""Driving the solution's scheduler as an engine does, and reading what each step says.

The solution's `ScheduledStep` stays in its process: the suite reads its two fields (a
dict and a list, by value) and passes the object itself back to `update`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import solution as sol

Config = dict[str, int]


@dataclass(frozen=True)
class Step:
    scheduled: list[tuple[int, int]]  # in the step's order
    preempted: list[int]
    free: int  # free_blocks right after schedule()
    finished: list[int]
    free_after: int  # free_blocks right after update()


def make(config: Config, requests: Sequence[tuple[int, int, int]] = ()) -> Any:
    """A scheduler with `requests` (id, prompt_len, max_new_tokens) queued in order."""
    s = sol.Scheduler(**config)
    for request_id, prompt_len, max_new_tokens in requests:
        s.add_request(request_id, prompt_len, max_new_tokens)
    return s


def read(step: Any, what: str) -> tuple[list[tuple[int, int]], list[int]]:
    scheduled, preempted = step.scheduled, step.preempted
    assert isinstance(scheduled, dict), (
        f"{what}: step.scheduled must be a dict of request id -> tokens, got "
        f"{type(scheduled).__name__} {scheduled!r}"
    )
    assert isinstance(preempted, list), (
        f"{what}: step.preempted must be a list of request ids, got "
        f"{type(preempted).__name__} {preempted!r}"
    )
    return list(scheduled.items()), list(preempted)


def one_step(s: Any, stopped: Sequence[int] = (), what: str = "a step") -> Step:
    step = s.schedule()
    scheduled, preempted = read(step, what)
    free = s.free_blocks
    finished = s.update(step, stopped=list(stopped)) if stopped else s.update(step)
    assert isinstance(finished, list), (
        f"{what}: update() must return a list of finished ids, got {finished!r}"
    )
    return Step(scheduled, preempted, free, finished, s.free_blocks)


def show(scheduled: list[tuple[int, int]]) -> str:
    return "{" + ", ".join(f"{i}: {n}" for i, n in scheduled) + "}"


def expect(
    s: Any,
    want: Sequence[tuple[dict[int, int], list[int], int, list[int]]],
    what: str,
    stopped: dict[int, list[int]] | None = None,
) -> list[Step]:
    """Run len(want) steps; each must give (scheduled in this order, preempted, free_blocks
    after schedule, what update returns). `stopped` maps a step number (1-based) to the
    ids passed as stopped there. Fails at the first step that differs, naming it."""
    got = []
    for k, (scheduled, preempted, free, finished) in enumerate(want, 1):
        step = one_step(s, (stopped or {}).get(k, ()), f"{what}, step {k}")
        got.append(step)
        sofar = "; ".join(
            f"{j}: {show(g.scheduled)} preempted {g.preempted}" for j, g in enumerate(got[:-1], 1)
        )
        where = f"{what}, step {k}"
        before = f" (steps before: {sofar})" if sofar else ""
        assert step.scheduled == list(scheduled.items()), (
            f"{where}: scheduled must be {show(list(scheduled.items()))} (in that order), "
            f"got {show(step.scheduled)}{before}"
        )
        assert step.preempted == preempted, (
            f"{where}: preempted must be {preempted}, got {step.preempted}{before}"
        )
        assert step.free == free, (
            f"{where}: free_blocks after schedule() must be {free}, got {step.free}{before}"
        )
        assert step.finished == finished, (
            f"{where}: update() must return {finished}, got {step.finished}{before}"
        )
    return got
