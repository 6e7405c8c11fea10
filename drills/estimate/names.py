"""The topics' names, in order: what `drill estimate --help` lists on every `drill` start,
without importing the generators (drills/estimate/topics.py checks the two agree)."""

from __future__ import annotations

TOPIC_NAMES = (
    "weights", "kv-cache", "batch", "decode", "prefill", "intensity",
    "ttft", "moe", "allreduce", "gpus", "cost", "speculative",
)  # fmt: skip
