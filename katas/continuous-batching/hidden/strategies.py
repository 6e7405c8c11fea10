"""Hypothesis strategies: small pools (so blocks run out and requests are preempted
often) and requests that fit them, with a few that do not."""

from __future__ import annotations

import random

from hypothesis import strategies as st

Config = dict[str, int]


@st.composite
def configs(draw: st.DrawFn) -> Config:
    return {
        "token_budget": draw(st.sampled_from([1, 3, 4, 6, 8, 12, 16])),
        "num_blocks": draw(st.sampled_from([1, 2, 3, 4, 5, 6, 8])),
        "block_size": draw(st.sampled_from([1, 1, 2, 2, 3, 4])),
        "max_running": draw(st.sampled_from([1, 2, 3, 4, 6])),
    }


def capacity(config: Config) -> int:
    """The most tokens one request may ever hold in the pool."""
    return config["num_blocks"] * config["block_size"]


@st.composite
def sizes(draw: st.DrawFn, config: Config) -> tuple[int, int]:
    """(prompt_len, max_new_tokens) that fit the pool alone: prompt + new - 1 <= capacity."""
    cap = capacity(config)
    prompt = draw(st.integers(1, min(cap, draw(st.sampled_from([3, 3, 8])))))
    most = cap - prompt + 1
    # Long generations fill the pool (and force preemptions); short ones come and go.
    new = draw(st.sampled_from([most, most, max(1, most // 2), 1]))
    return prompt, new


@st.composite
def any_sizes(draw: st.DrawFn, config: Config) -> tuple[int, int]:
    """Mostly sizes that fit; sometimes empty, or one token more than the pool holds."""
    kind = draw(st.sampled_from(["fits"] * 6 + ["empty", "too_long"]))
    if kind == "fits":
        return draw(sizes(config))
    if kind == "empty":
        return draw(st.sampled_from([(0, 1), (1, 0), (0, 0), (-1, 2)]))
    cap = capacity(config)
    prompt = draw(st.integers(1, cap + 1))
    return prompt, cap - prompt + 2  # prompt + new - 1 = cap + 1: one block too many


Arrival = tuple[int, int, int, int]  # (step, request id, prompt_len, max_new_tokens)


def seeded_trace(seed: int) -> tuple[Config, list[Arrival]]:
    """A trace from a fixed seed: a tight pool, 3 to 10 requests arriving over 12 steps."""
    rng = random.Random(seed)
    block_size = rng.choice([1, 2, 2, 3, 4])
    num_blocks = rng.randint(2, 8)
    config = {
        "token_budget": rng.choice([2, 4, 6, 8, 12, 16]),
        "num_blocks": num_blocks,
        "block_size": block_size,
        "max_running": rng.randint(2, 6),
    }
    cap = num_blocks * block_size
    arrivals = []
    for request_id in range(rng.randint(3, 10)):
        prompt = rng.randint(1, min(cap, rng.choice([2, 4, 8])))
        most = cap - prompt + 1
        new = rng.choice([most, rng.randint(1, most), rng.randint(1, max(1, most // 3))])
        arrivals.append((rng.randint(0, 12), request_id, prompt, new))
    return config, sorted(arrivals)
