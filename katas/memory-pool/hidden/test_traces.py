"""Whole traces against the model (oracle.py): every offset, every OutOfMemory, every
stats() dict after every step."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import MIB, Runner, run_trace
from strategies import operations, sizes
from traces import FRAGMENTATION_CAPACITY, decode, fragmentation, model_loading

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a failure names its steps


@pytest.mark.parametrize("seed", [1, 2])
def test_loading_a_model_places_every_weight_by_the_rules(seed: int) -> None:
    run_trace(256 * MIB, model_loading(seed), f"model-loading trace (seed {seed})")


def test_decoding_with_a_growing_kv_cache_places_every_block_by_the_rules() -> None:
    run_trace(64 * MIB, decode(3), "decode trace")


def test_coalescing_lets_a_large_request_reuse_freed_neighbours() -> None:
    model = run_trace(FRAGMENTATION_CAPACITY, fragmentation(), "fragmentation trace")
    assert model.stats()["reserved_bytes"] == 20 * MIB  # the trace stays in one segment


@settings(max_examples=40, phases=NO_SHRINK)
@given(st.data())
def test_random_traces_follow_the_rules_up_to_out_of_memory(data: st.DataObject) -> None:
    capacity = data.draw(st.sampled_from([24 * MIB, 48 * MIB, 50 * MIB + 512]), "capacity")
    runner = Runner(capacity, f"random trace in a buffer of {capacity} bytes")
    for _ in range(data.draw(st.integers(10, 40), "steps")):
        op = data.draw(operations())
        if op == "malloc":
            runner.step(("malloc", data.draw(sizes())))
        elif op == "free" and runner.offsets:
            runner.step(("free", data.draw(st.sampled_from(sorted(runner.offsets)))))
        elif op == "empty_cache":
            runner.step(("empty_cache",))
