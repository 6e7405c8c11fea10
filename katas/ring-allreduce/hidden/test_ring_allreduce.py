"""Hidden suite for the ring-allreduce kata.

Starting ranks costs time, so each world size is one launch (`ring_checks.rank_main`
runs every check in every rank) and each test below reads one check's outcome from
that launch. A launch that deadlocks or crashes fails its own test and every check
it did not finish, naming the check the ranks were stuck in.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass

import pytest
import ring_checks as rc
import solution as sol  # noqa: F401  (imported by every rank; fail early here)

from reference.collectives import RankError, launch

WORLD_SIZES = [1, 2, 3, 4, 8]
LAUNCH_TIMEOUT_S = 12.0  # a correct run takes about 2 s even on a loaded 2-core machine


@dataclass(frozen=True)
class Outcome:
    """One launch: how it ended and, per check, None (passed on every rank) or why not."""

    world_size: int
    launch_error: str | None
    errors: dict[str, str | None]

    def error(self, check: str) -> str | None:
        if check not in self.errors:
            raise KeyError(f"no check {check!r} for {self.world_size} ranks")
        return self.errors[check]


def _read_logs(log_dir: str, world_size: int) -> tuple[dict[str, list[str | None]], list[str]]:
    """Per check, each rank's error (None: passed); per rank, the check it last started."""
    finished: dict[str, list[str | None]] = {}
    current: list[str] = []
    for rank in range(world_size):
        path = os.path.join(log_dir, f"rank{rank}.jsonl")
        last = "(none: the rank never got to its first check)"
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    record = json.loads(line)
                    if record.get("started"):
                        last = record["check"]
                    else:
                        finished.setdefault(record["check"], []).append(record["error"])
                        last = f"(after {record['check']})"
        current.append(last)
    return finished, current


@functools.cache
def outcome(world_size: int) -> Outcome:
    """Run every check on `world_size` ranks once; later tests reuse the outcome."""
    launch_error: str | None = None
    with tempfile.TemporaryDirectory(prefix="ring-checks-") as log_dir:
        try:
            # Forked ranks inherit this process's sandbox: its import and audit hooks
            # as well as its limits (a fresh interpreter would start without them).
            launch(rc.rank_main, world_size, log_dir, timeout=LAUNCH_TIMEOUT_S, start_method="fork")
        except TimeoutError:
            launch_error = f"{world_size} ranks did not finish within {LAUNCH_TIMEOUT_S:g} s"
        except RankError as exc:
            launch_error = f"{world_size} ranks: {str(exc)[-1500:]}"
            if "SIGABRT" in launch_error:
                launch_error += (
                    " [gloo aborts a rank whose receive does not match the size of the "
                    "message sent to it: do both ends agree on every chunk's size?]"
                )
        finished, current = _read_logs(log_dir, world_size)
    if launch_error is not None:
        where = ", ".join(f"rank {r} in {c}" for r, c in enumerate(current))
        launch_error += f" (deadlock or crash; when it stopped: {where})"
    errors: dict[str, str | None] = {}
    for name in rc.check_names(world_size):
        results = finished.get(name, [])
        failures = [e for e in results if e is not None]
        if failures:
            errors[name] = failures[0]
        elif len(results) < world_size:
            errors[name] = f"check not finished on every rank: {launch_error}"
        else:
            errors[name] = None
    return Outcome(world_size, launch_error, errors)


def passes(world_size: int, check: str) -> None:
    error = outcome(world_size).error(check)
    assert error is None, error


def _ids(world_size: int) -> str:
    return f"ranks{world_size}"


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_finishes_without_deadlock_or_crash(world_size: int) -> None:
    error = outcome(world_size).launch_error
    assert error is None, error


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_float32_sum_of_a_long_tensor_equals_dist_all_reduce(world_size: int) -> None:
    passes(world_size, f"float32-len{rc.LARGE}")


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_int64_sum_equals_dist_all_reduce(world_size: int) -> None:
    passes(world_size, f"int64-len{rc.LARGE}")


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_random_floats_match_dist_all_reduce_within_rounding(world_size: int) -> None:
    passes(world_size, "random-float32")


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_sum_is_written_into_the_input_tensor_which_is_returned(world_size: int) -> None:
    passes(world_size, "in-place")


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_keeps_shape_and_dtype_of_a_3d_tensor(world_size: int) -> None:
    passes(world_size, "shape-3d")


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_back_to_back_calls_of_different_sizes_do_not_mix_messages(world_size: int) -> None:
    passes(world_size, "back-to-back")


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_uses_point_to_point_sends_and_no_collective(world_size: int) -> None:
    passes(world_size, "no-collectives")


@pytest.mark.parametrize("world_size", [w for w in WORLD_SIZES if w > 1], ids=_ids)
def test_each_rank_sends_2_n_minus_1_over_n_of_the_tensor(world_size: int) -> None:
    passes(world_size, "bytes")


SMALL = [(w, n) for w in WORLD_SIZES for n in rc.small_lengths(w)]


@pytest.mark.parametrize(
    ("world_size", "length"), SMALL, ids=[f"ranks{w}-len{n}" for w, n in SMALL]
)
def test_lengths_not_divisible_by_or_smaller_than_the_ranks(world_size: int, length: int) -> None:
    passes(world_size, f"float32-len{length}")


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_int64_with_one_more_element_than_ranks(world_size: int) -> None:
    passes(world_size, f"int64-len{world_size + 1}")


@pytest.mark.parametrize("name", list(rc.SUBGROUPS))
def test_subgroup_uses_group_ranks_and_its_own_size(name: str) -> None:
    passes(4, f"subgroup-{name}")
