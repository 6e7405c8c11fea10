"""Seeded random arrival traces, replayed step by step against the reference scheduler,
with the scheduling invariants checked after every step (see oracle.py)."""

from __future__ import annotations

import pytest
from oracle import EOS, random_trace, replay, sampled_token

SEEDS = list(range(16))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_trace_matches_the_reference_scheduler_step_by_step(seed: int) -> None:
    replay(seed)


@pytest.mark.parametrize("seed", [0, 5])
def test_random_trace_returns_each_request_its_sampled_tokens(seed: int) -> None:
    out = replay(seed)
    _, arrivals = random_trace(seed)
    assert sorted(out.outputs) == sorted(a.request_id for a in arrivals), (
        f"seed {seed}: every request must finish; finished {sorted(out.outputs)}"
    )
    for a in arrivals:
        want: list[int] = []
        while len(want) < a.max_new_tokens:
            want.append(sampled_token(seed, a.request_id, len(want)))
            if a.eos and want[-1] == EOS:
                break
        got = out.outputs[a.request_id]
        assert got == want, (
            f"seed {seed}: request {a.request_id} (max_new_tokens {a.max_new_tokens}, "
            f"stops at EOS: {a.eos}) must return {want}, got {got}"
        )


def test_random_traces_do_preempt_and_chunk() -> None:
    """The traces exercise what they are meant to: preemption and chunked prefill."""
    preemptions = chunks = 0
    for seed in SEEDS[:6]:
        _, arrivals = random_trace(seed)
        prompts = {a.request_id: a.prompt_len for a in arrivals}
        out = replay(seed)
        for scheduled, preempted in out.steps:
            preemptions += len(preempted)
            chunks += sum(1 for i, n in scheduled.items() if 1 < n < prompts[i])
    assert preemptions >= 3 and chunks >= 3, (preemptions, chunks)
