"""Hypothesis strategies: request sizes that reach every rule, and random traces."""

from __future__ import annotations

from hypothesis import strategies as st
from oracle import KIB, MIB

# Sizes at each boundary of the rules (512, 1 MiB, 10 MiB) and on either side of it.
EDGES = [
    1,
    511,
    512,
    513,
    MIB - 512,
    MIB - 1,
    MIB,
    MIB + 1,
    10 * MIB - 512,
    10 * MIB,
    10 * MIB + 1,
    19 * MIB,
]


def sizes() -> st.SearchStrategy[int]:
    """A request: small activations, weight-sized large blocks, a few segments'
    worth, or an exact boundary."""
    return st.one_of(
        st.integers(1, 64 * KIB),
        st.integers(64 * KIB, 2 * MIB),
        st.integers(MIB, 10 * MIB),
        st.integers(10 * MIB, 24 * MIB),
        st.sampled_from(EDGES),
    )


def operations() -> st.SearchStrategy[str]:
    """malloc a little more often than free, so traces fill the buffer and hit its end."""
    return st.sampled_from(["malloc"] * 5 + ["free"] * 4 + ["empty_cache"])
