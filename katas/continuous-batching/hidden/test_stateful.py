"""Random arrivals, steps and stop tokens against the slow literal model (oracle.py).

Every step must schedule what the model schedules (the same requests, the same token
counts, in the same order), preempt the same requests in the same order, leave the same
number of free blocks after schedule() and after update(), and finish the same requests;
add_request must raise exactly where the model says it must. Ids come from a small pool,
so finished ids come back; pools are small, so blocks run out and requests are preempted
and recomputed often.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import solution as sol
from driver import read, show
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from oracle import SlowScheduler
from strategies import Config, any_sizes, configs, seeded_trace, sizes

IDS = st.integers(0, 7)


class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.s: Any = None
        self.model = SlowScheduler(1, 1, 1, 1)
        self.config: Config = {}
        self.log: list[str] = []
        self.steps = 0

    @initialize(config=configs(), data=st.data())
    def make(self, config: Config, data: st.DataObject) -> None:
        self.config = config
        self.s = sol.Scheduler(**config)
        self.model = SlowScheduler(**config)
        self.log = []
        for request_id in range(data.draw(st.integers(2, 6))):
            self._add(request_id, *data.draw(sizes(config)))

    def _where(self) -> str:
        return f"Scheduler({self.config}), after " + "; ".join(self.log[-12:] or ["nothing"])

    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(1, 4))):
            self._add(data.draw(IDS), *data.draw(any_sizes(self.config)))

    def _add(self, request_id: int, prompt_len: int, max_new_tokens: int) -> None:
        call = f"add_request({request_id}, {prompt_len}, {max_new_tokens})"
        if self.model.rejects(request_id, prompt_len, max_new_tokens):
            with pytest.raises(ValueError):
                self.s.add_request(request_id, prompt_len, max_new_tokens)
            self.log.append(call + " -> ValueError")
            return
        self.s.add_request(request_id, prompt_len, max_new_tokens)
        self.model.add_request(request_id, prompt_len, max_new_tokens)
        self.log.append(call)

    def _step(self, stop_some: bool, data: st.DataObject | None) -> None:
        self.steps += 1
        step = self.s.schedule()
        got, preempted = read(step, f"step {self.steps}")
        want_dict, want_preempted = self.model.schedule()
        want = list(want_dict.items())
        where = self._where()
        total = sum(n for _, n in got)
        assert total <= self.config["token_budget"], (
            f"schedule() gave {show(got)}: {total} tokens, over token_budget "
            f"{self.config['token_budget']}, {where}"
        )
        assert got == want, (
            f"schedule() must give {show(want)} (in that order), got {show(got)}, {where}"
        )
        assert preempted == want_preempted, (
            f"schedule() must preempt {want_preempted} (in that order), got {preempted}, {where}"
        )
        free, want_free = self.s.free_blocks, self.model.free_blocks()
        assert free == want_free, (
            f"free_blocks after schedule() {show(got)} must be {want_free}, got {free}, {where}"
        )
        emitting = [i for i, _ in want if self.model.emits(i)]
        stopped: list[int] = []
        if stop_some and data is not None and emitting:
            stopped = data.draw(st.lists(st.sampled_from(emitting), max_size=2, unique=True))
        finished = self.s.update(step, stopped=stopped)
        want_finished = self.model.update(stopped)
        self.log.append(
            f"step {self.steps}: {show(want)} preempted {want_preempted}"
            + (f", update(stopped={stopped})" if stopped else "")
            + f" -> {want_finished}"
        )
        assert finished == want_finished, (
            f"update() must return {want_finished}, got {finished}, {self._where()}"
        )
        free, want_free = self.s.free_blocks, self.model.free_blocks()
        assert free == want_free, (
            f"free_blocks after update() must be {want_free}, got {free}, {self._where()}"
        )

    @rule(data=st.data())
    def step_with_stop_tokens(self, data: st.DataObject) -> None:
        self._step(True, data)

    @rule(n=st.integers(1, 6))
    def steps_without_stops(self, n: int) -> None:
        for _ in range(n):
            self._step(False, None)

    @invariant()
    def has_work_matches(self) -> None:
        if self.s is None:
            return
        got, want = self.s.has_work, self.model.has_work()
        assert got is want, f"has_work must be {want}, got {got!r}, {self._where()}"


# No shrink phase: shrinking a failing state machine replays it many times through the
# worker; every assertion names the configuration and the last calls instead.
SchedulerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
)
test_scheduler_matches_a_slow_literal_model = SchedulerMachine.TestCase


SEEDS = range(40)


def test_seeded_traces_match_the_model_step_for_step() -> None:
    """Whole traces from fixed seeds, with stop tokens drawn from the same seed."""
    for seed in SEEDS:
        config, arrivals = seeded_trace(seed)
        rng = random.Random(seed)
        s, model = sol.Scheduler(**config), SlowScheduler(**config)
        done: list[str] = []
        for t in range(1000):
            for when, request_id, prompt_len, max_new_tokens in arrivals:
                if when == t:
                    s.add_request(request_id, prompt_len, max_new_tokens)
                    model.add_request(request_id, prompt_len, max_new_tokens)
            if t > arrivals[-1][0] and not model.has_work():
                break
            step = s.schedule()
            got, preempted = read(step, f"step {t + 1}")
            want_dict, want_preempted = model.schedule()
            want = list(want_dict.items())
            where = (
                f"Scheduler({config}), arrivals (step, id, prompt_len, max_new_tokens) "
                f"{arrivals}; the steps before: " + "; ".join(done[-8:] or ["none"])
            )
            assert (got, preempted) == (want, want_preempted), (
                f"step {t + 1}: schedule() must give {show(want)} preempted {want_preempted}, "
                f"got {show(got)} preempted {preempted}; {where}"
            )
            assert s.free_blocks == model.free_blocks(), (
                f"step {t + 1}: free_blocks after schedule() must be {model.free_blocks()}, got "
                f"{s.free_blocks}; {where}"
            )
            stopped = [i for i, _ in want if model.emits(i) and rng.random() < 0.1]
            finished, want_finished = s.update(step, stopped=stopped), model.update(stopped)
            assert finished == want_finished, (
                f"step {t + 1}: update(stopped={stopped}) after {show(want)} must return "
                f"{want_finished}, got {finished}; {where}"
            )
            if want or want_preempted:
                done.append(f"{t + 1}: {show(want)} preempted {want_preempted} -> {want_finished}")
        assert not model.has_work(), f"seed {seed}: the trace did not end in 1000 steps"
