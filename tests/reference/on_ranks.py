"""Checks that run on every rank at once: starting ranks costs seconds, so one launch
per world size runs a module's whole table of checks, with a barrier between them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch.distributed as dist

from reference.collectives import launch

# (rank, world size) -> None when the check holds on this rank, else what went wrong
Check = Callable[[int, int], str | None]


def run_checks(checks: Mapping[str, Check], world_size: int) -> list[dict[str, str | None]]:
    """Every check's outcome, by rank (the check functions must be module-level)."""
    return launch(_run_all, world_size, dict(checks), timeout=120)


def _run_all(rank: int, world_size: int, checks: dict[str, Check]) -> dict[str, str | None]:
    results: dict[str, str | None] = {}
    for name, check in checks.items():
        results[name] = check(rank, world_size)
        dist.barrier()
    return results
