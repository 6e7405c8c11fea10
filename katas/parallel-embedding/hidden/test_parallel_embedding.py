"""Hidden suite for the parallel-embedding kata.

Starting ranks costs time, so each world size is one launch (`ranks.run_world` runs
every check on the same ranks) and each test below reads one check's outcome from
that launch. A launch that deadlocks, or where one rank raised while the others
waited in a collective, fails its own test and every check it did not finish, naming
the check the ranks were stuck in.
"""

from __future__ import annotations

import functools

import pytest
import ranks as rc

WORLD_SIZES = [1, 4]


@functools.cache
def outcome(world_size: int) -> rc.Outcome:
    """Run every check on `world_size` ranks once; later tests reuse the outcome."""
    return rc.run_world(world_size)


def passes(world_size: int, check: str) -> None:
    error = outcome(world_size).error(check)
    assert error is None, error


def _ids(world_size: int) -> str:
    return f"ranks{world_size}"


# --------------------------------------------------------------------------- launches


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_finishes_without_deadlock_or_crash(world_size: int) -> None:
    error = outcome(world_size).launch_error
    assert error is None, error


@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=_ids)
def test_shard_range_is_ceil_shards_with_both_ends_clamped(world_size: int) -> None:
    passes(world_size, "shard-range")


@pytest.mark.parametrize("what", ["vocab", "dim", "backward"])
def test_one_rank_holds_the_whole_table(what: str) -> None:
    passes(1, f"{what}-one-rank")


# --------------------------------------------------------------------------- vocabulary split


def test_vocab_split_matches_nn_embedding_when_the_ranks_divide_the_vocab() -> None:
    passes(4, "vocab-divisible")


def test_vocab_split_with_a_short_last_shard() -> None:
    passes(4, "vocab-short-last-shard")


def test_vocab_split_with_an_empty_last_shard() -> None:
    passes(4, "vocab-empty-last-shard")


def test_vocab_split_with_fewer_rows_than_ranks() -> None:
    passes(4, "vocab-fewer-rows-than-ranks")


def test_vocab_split_takes_ids_of_any_shape_scalar_3d_and_empty() -> None:
    passes(4, "vocab-shapes")


def test_vocab_split_with_int32_ids_and_bfloat16_weights_is_exact() -> None:
    passes(4, "vocab-int32-ids-bfloat16")


def test_vocab_split_leaves_ids_and_the_shard_unchanged() -> None:
    passes(4, "vocab-inputs-unchanged")


def test_vocab_split_raises_index_error_on_every_rank_for_ids_outside_the_vocab() -> None:
    passes(4, "vocab-out-of-range")


def test_vocab_split_sends_partial_outputs_not_the_table() -> None:
    passes(4, "vocab-no-table")


@pytest.mark.parametrize("group", ["2-of-4", "3-of-4"])
def test_vocab_split_in_a_subgroup_uses_the_group_rank_and_size(group: str) -> None:
    passes(4, f"vocab-group-{group}")


# --------------------------------------------------------------------------- column split


def test_dim_split_matches_nn_embedding_when_the_ranks_divide_the_width() -> None:
    passes(4, "dim-divisible")


def test_dim_split_with_a_short_last_shard() -> None:
    passes(4, "dim-short-last-shard")


def test_dim_split_with_an_empty_last_shard() -> None:
    passes(4, "dim-empty-last-shard")


def test_dim_split_with_fewer_columns_than_ranks() -> None:
    passes(4, "dim-fewer-columns-than-ranks")


def test_dim_split_takes_ids_of_any_shape_scalar_3d_and_empty() -> None:
    passes(4, "dim-shapes")


def test_dim_split_raises_index_error_on_every_rank_for_ids_outside_the_vocab() -> None:
    passes(4, "dim-out-of-range")


def test_dim_split_sends_partial_outputs_not_the_table() -> None:
    passes(4, "dim-no-table")


def test_dim_split_in_a_subgroup_uses_the_group_rank_and_size() -> None:
    passes(4, "dim-group-3-of-4")


# --------------------------------------------------------------------------- backward


def test_backward_matches_nn_embedding_rows_with_a_short_last_shard() -> None:
    passes(4, "backward-short-last-shard")


def test_backward_of_an_empty_shard_is_an_empty_gradient() -> None:
    passes(4, "backward-empty-last-shard")


def test_backward_accumulates_repeated_ids_and_leaves_absent_ids_zero() -> None:
    passes(4, "backward-repeated-ids")


def test_backward_with_random_float_gradients_matches_within_rounding() -> None:
    passes(4, "backward-random-floats")


def test_backward_of_bfloat16_grad_output_is_bfloat16() -> None:
    passes(4, "backward-bfloat16")


def test_backward_takes_ids_of_any_shape_scalar_3d_and_empty() -> None:
    passes(4, "backward-shapes")


def test_backward_raises_index_error_on_every_rank_for_ids_outside_the_vocab() -> None:
    passes(4, "backward-out-of-range")


def test_backward_in_a_subgroup_uses_the_group_rank_and_size() -> None:
    passes(4, "backward-group-2-of-4")
