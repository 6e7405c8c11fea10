"""Visible examples from the prompt (`drill test`).

`shard_range` is checked here directly. The other three functions run on four local
ranks that the test starts itself (a tiny launcher below: gloo on loopback, a file
rendezvous in a temporary directory); each rank gets only its shard of a small table
whose row i is `[10 * i, 10 * i + 1, ...]`, and the answers are worked out by hand.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import traceback
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any

import pytest
import solution
import torch
import torch.distributed as dist

WORLD_SIZE = 4
TIMEOUT_S = 60.0


def table(rows: int, cols: int) -> torch.Tensor:
    """Row i is [10 * i, 10 * i + 1, ..., 10 * i + cols - 1]: easy to read back."""
    return 10.0 * torch.arange(rows)[:, None] + torch.arange(cols)[None, :]


def _rank(rank: int, store: str, conn: Connection) -> None:
    """One rank: run every example, send back plain lists (or the traceback)."""
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{store}",
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=timedelta(seconds=TIMEOUT_S),
    )
    try:
        results: dict[str, Any] = {}
        ids = torch.tensor([[9, 0], [4, 4]])
        for vocab in (10, 9):  # a short last shard, an empty one
            start, end = solution.shard_range(vocab, WORLD_SIZE, rank)
            shard = table(vocab, 2)[start:end]
            out = solution.vocab_parallel_embedding(ids % vocab, shard, vocab)
            results[f"vocab-{vocab}"] = out.tolist()
        grad = solution.vocab_parallel_embedding_backward(
            torch.tensor([3, 9, 3, 4]), torch.tensor([[1.0], [2.0], [5.0], [7.0]]), 10
        )
        results["backward"] = grad.tolist()
        for dim in (10, 6):  # a short last shard, an empty one
            start, end = solution.shard_range(dim, WORLD_SIZE, rank)
            cols = table(10, dim)[:, start:end]
            results[f"dim-{dim}"] = solution.dim_parallel_embedding(ids, cols, dim).tolist()
        conn.send(("ok", results))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results() -> list[dict[str, Any]]:
    """Every rank's results; any rank's error surfaces as a test failure."""
    if "forkserver" in mp.get_all_start_methods():
        # One server imports torch once; each rank forks from it in a fraction of a second.
        ctx: Any = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "torch.distributed"])
    else:
        ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        pipes = [ctx.Pipe(duplex=False) for _ in range(WORLD_SIZE)]
        procs = [
            ctx.Process(target=_rank, args=(r, store, pipes[r][1]), daemon=True)
            for r in range(WORLD_SIZE)
        ]
        for p in procs:
            p.start()
        try:
            replies = []
            for r, (reader, _) in enumerate(pipes):
                if not reader.poll(TIMEOUT_S):
                    pytest.fail(f"rank {r} gave no answer in {TIMEOUT_S:g} s: deadlock?")
                replies.append(reader.recv())
        finally:
            for p in procs:
                p.join(5)
                if p.is_alive():
                    p.kill()
    for r, (status, value) in enumerate(replies):
        if status == "error":
            pytest.fail(f"rank {r} raised:\n{value}")
    return [dict(value) for _, value in replies]


def test_shard_range_short_and_empty_last_shards() -> None:
    assert [solution.shard_range(10, 4, r) for r in range(4)] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert [solution.shard_range(9, 4, r) for r in range(4)] == [(0, 3), (3, 6), (6, 9), (9, 9)]
    assert [solution.shard_range(2, 4, r) for r in range(4)] == [(0, 1), (1, 2), (2, 2), (2, 2)]


def test_vocab_split_with_a_short_last_shard(results: list[dict[str, Any]]) -> None:
    for r in range(WORLD_SIZE):
        assert results[r]["vocab-10"] == [[[90, 91], [0, 1]], [[40, 41], [40, 41]]], f"rank {r}"


def test_vocab_split_with_an_empty_last_shard(results: list[dict[str, Any]]) -> None:
    # ids % 9: [[0, 0], [4, 4]]; rank 3 holds no rows at all.
    for r in range(WORLD_SIZE):
        assert results[r]["vocab-9"] == [[[0, 1], [0, 1]], [[40, 41], [40, 41]]], f"rank {r}"


def test_backward_accumulates_repeated_ids_on_the_owning_shard(
    results: list[dict[str, Any]],
) -> None:
    assert [results[r]["backward"] for r in range(WORLD_SIZE)] == [
        [[0.0], [0.0], [0.0]],  # rows 0-2: no id
        [[6.0], [7.0], [0.0]],  # rows 3-5: 1 + 5 for the two 3s, 7 for the 4
        [[0.0], [0.0], [0.0]],  # rows 6-8: no id
        [[2.0]],  # row 9
    ]


@pytest.mark.parametrize("dim", [10, 6])
def test_dim_split_gathers_the_columns_in_rank_order(
    results: list[dict[str, Any]], dim: int
) -> None:
    rows = table(10, dim)
    expected = [[rows[9].tolist(), rows[0].tolist()], [rows[4].tolist(), rows[4].tolist()]]
    for r in range(WORLD_SIZE):
        assert results[r][f"dim-{dim}"] == expected, f"rank {r}"
