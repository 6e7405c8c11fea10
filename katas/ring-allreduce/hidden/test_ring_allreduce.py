"""Hidden suite for the ring-allreduce kata.

Starting ranks costs time, so each world size is one launch (`ranks.run_world`
runs every check on the same ranks) and each test below reads one check's outcome from
that launch. A launch that deadlocks or crashes fails its own test and every check
it did not finish, naming the check the ranks were stuck in.
"""

from __future__ import annotations

import functools

import pytest
import ranks as rc

WORLD_SIZES = [1, 2, 3, 4, 8]


@functools.cache
def outcome(world_size: int) -> rc.Outcome:
    """Run every check on `world_size` ranks once; later tests reuse the outcome."""
    return rc.run_world(world_size)


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
