"""Ring collectives against gloo's own collectives, and the local launcher.

Starting ranks costs seconds, so each world size is one launch that runs every
check in every rank (`_all_checks`) and returns, per check, None or what went
wrong; the parametrized tests below read that outcome. Oracles: `dist.all_reduce`
on a copy of the same input, or values worked out from the rank layout (all-gather).
Inputs are small integers so every summation order is exact.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
import torch.distributed as dist

from reference import collectives
from reference.collectives import (
    RankError,
    launch,
    ring_all_gather,
    ring_all_reduce,
    ring_reduce_scatter,
)
from tests.reference.on_ranks import Check, run_checks

WORLD_SIZES = [1, 2, 3, 4]
LARGE = (1 << 20) + 3  # 4 MB of float32, not divisible by 2, 3 or 4


def _ints(rank: int, shape: tuple[int, ...], dtype: torch.dtype, salt: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(7919 * salt + rank)
    return torch.randint(-1000, 1000, shape, generator=g).to(dtype)


def _oracle(x: torch.Tensor, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    expected = x.clone()
    dist.all_reduce(expected, group=group)
    return expected


def _lengths(n: int) -> list[int]:
    return sorted({0, 1, max(n - 1, 0), n + 1, LARGE})


COLLECTIVES = ("allreduce", "broadcast", "allgather", "_allgather_base", "reduce_scatter")


@contextmanager
def _p2p_only() -> Iterator[list[int]]:
    """Yield a list that collects the bytes of every send; collectives raise meanwhile.

    Patched on ProcessGroup, where isend, send and batch_isend_irecv all end up.
    """
    pg: Any = dist.ProcessGroup
    raw = {name: vars(pg)[name] for name in ("send", *COLLECTIVES)}  # to restore as they were
    send = pg.send
    sent: list[int] = []

    def counting_send(self: Any, tensors: list[torch.Tensor], *args: Any) -> Any:
        sent.extend(t.numel() * t.element_size() for t in tensors)
        return send(self, tensors, *args)

    def forbidden(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a collective was called")

    pg.send = counting_send
    for name in COLLECTIVES:
        setattr(pg, name, forbidden)
    try:
        yield sent
    finally:
        for name, descriptor in raw.items():
            setattr(pg, name, descriptor)


def _check_all_reduce(rank: int, n: int) -> str | None:
    for length in _lengths(n):
        for dtype in (torch.float32, torch.int64):
            x = _ints(rank, (length,), dtype, salt=length)
            expected = _oracle(x)
            with _p2p_only():
                out = ring_all_reduce(x)
            if out is not x or not torch.equal(x, expected):
                return f"{length} elements of {dtype}: differs from dist.all_reduce"
    return None


def _check_many_segments(rank: int, n: int) -> str | None:
    saved = collectives.SEGMENT_BYTES
    collectives.SEGMENT_BYTES = 16  # up to MAX_SEGMENTS segments of a few elements each
    try:
        for length in (*_lengths(n)[:-1], 1001):
            x = _ints(rank, (length,), torch.int64, salt=5)
            expected = _oracle(x)
            ring_all_reduce(x)
            if not torch.equal(x, expected):
                return f"{length} elements in 16-byte segments: differs from dist.all_reduce"
    finally:
        collectives.SEGMENT_BYTES = saved
    return None


def _check_random_floats(rank: int, n: int) -> str | None:
    x = torch.randn(10_007, generator=torch.Generator().manual_seed(rank))
    expected = _oracle(x)
    ring_all_reduce(x)
    err = (x - expected).abs().max().item()
    return None if err < 1e-4 else f"max difference {err:g}"


def _check_non_contiguous(rank: int, n: int) -> str | None:
    x = _ints(rank, (6, 5), torch.float32, salt=1).t()  # [5, 6], a transposed view
    expected = _oracle(x)
    out = ring_all_reduce(x)
    ok = out is x and not x.is_contiguous() and torch.equal(x, expected)
    return None if ok else "a transposed view was not reduced in place"


def _check_traffic(rank: int, n: int) -> str | None:
    x = _ints(rank, (100_003,), torch.float32, salt=2)
    with _p2p_only() as sent:
        ring_all_reduce(x)
    sizes = [c.numel() * 4 for c in torch.tensor_split(x, n)]
    # Reduce-scatter sends every chunk but r, all-gather every chunk but r + 1.
    want = 0 if n == 1 else 2 * sum(sizes) - sizes[rank] - sizes[(rank + 1) % n]
    return None if sum(sent) == want else f"sent {sum(sent)} bytes, expected {want}"


def _check_reduce_scatter(rank: int, n: int) -> str | None:
    for length in _lengths(n):
        x = _ints(rank, (length,), torch.int64, salt=3)
        expected = _oracle(x)
        out = ring_reduce_scatter(x)
        mine = torch.tensor_split(x, n)[rank]
        if out is not x or not torch.equal(mine, torch.tensor_split(expected, n)[rank]):
            return f"{length} elements: chunk {rank} does not hold the sum"
    return None


def _check_all_gather(rank: int, n: int) -> str | None:
    for length in _lengths(n):
        # Element i belongs to the rank that owns its chunk; we fill only ours.
        owner = torch.cat([torch.full((c.numel(),), r) for r, c in enumerate(_split(length, n))])
        expected = 1000 * owner + torch.arange(length)
        x = torch.full((length,), -1, dtype=torch.int64)
        mine = owner == rank
        x[mine] = expected[mine]
        with _p2p_only():
            ring_all_gather(x)
        if not torch.equal(x, expected):
            return f"{length} elements: gathered {x[:8].tolist()}..., expected {expected[:8].tolist()}..."
    return None


def _split(length: int, n: int) -> tuple[torch.Tensor, ...]:
    return torch.tensor_split(torch.empty(length), n)


def _check_subgroups(rank: int, n: int) -> str | None:
    # new_group is collective: every rank creates every group.
    layouts = [[0, n - 1], list(range(1, n))] if n >= 3 else []
    groups = [dist.new_group(members) for members in layouts]
    for members, group in zip(layouts, groups, strict=True):
        x = _ints(rank, (7,), torch.int64, salt=4)
        if rank not in members:
            before = x.clone()
            ring_all_reduce(x, group)  # outside the group: a no-op
            if not torch.equal(x, before):
                return f"rank {rank} outside group {members} changed its tensor"
            continue
        expected = _oracle(x, group)
        with _p2p_only():
            ring_all_reduce(x, group)
        if not torch.equal(x, expected):
            return f"group {members}: differs from dist.all_reduce over the group"
    return None


CHECKS: dict[str, Check] = {
    "all-reduce-lengths-and-dtypes": _check_all_reduce,
    "all-reduce-many-segments": _check_many_segments,
    "all-reduce-random-floats": _check_random_floats,
    "all-reduce-non-contiguous": _check_non_contiguous,
    "all-reduce-traffic": _check_traffic,
    "reduce-scatter-alone": _check_reduce_scatter,
    "all-gather-alone": _check_all_gather,
    "subgroups": _check_subgroups,
}


@functools.cache
def _outcome(world_size: int) -> list[dict[str, str | None]]:
    return run_checks(CHECKS, world_size)


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=lambda n: f"ranks{n}")
def test_ring_collectives_match_gloo(world_size: int, check: str) -> None:
    errors = {r: res[check] for r, res in enumerate(_outcome(world_size)) if res[check]}
    assert not errors, errors


# --------------------------------------------------------------------------- launch


def _rank_times_ten(rank: int, world_size: int, offset: int) -> tuple[int, int, int]:
    return rank, world_size, 10 * rank + offset


def _raise_on_rank_one(rank: int, world_size: int) -> None:
    if rank == 1:
        raise ValueError("rank one refuses")
    t = torch.zeros(1)
    dist.recv(t, 1)  # blocks: rank 1 never sends


def _deadlock(rank: int, world_size: int, pid_dir: str) -> None:
    with open(os.path.join(pid_dir, str(rank)), "w") as f:
        f.write(str(os.getpid()))
    t = torch.zeros(4)
    dist.recv(t, (rank + 1) % world_size)  # everyone receives, nobody sends


def _exit_early(rank: int, world_size: int) -> None:
    if rank == 0:
        os._exit(3)


def test_launch_returns_each_ranks_result_in_rank_order() -> None:
    assert launch(_rank_times_ten, 3, 7) == [(0, 3, 7), (1, 3, 17), (2, 3, 27)]


def test_launch_with_forked_ranks_returns_the_same_results() -> None:
    assert launch(_rank_times_ten, 2, 1, start_method="fork") == [(0, 2, 1), (1, 2, 11)]


def test_launch_raises_a_ranks_exception_with_its_traceback() -> None:
    with pytest.raises(RankError) as info:
        launch(_raise_on_rank_one, 3, timeout=60)
    message = str(info.value)
    assert "rank 1" in message
    assert "ValueError: rank one refuses" in message
    assert "_raise_on_rank_one" in message  # the traceback, not just the message


def test_launch_reports_a_rank_that_exits_without_a_result() -> None:
    with pytest.raises(RankError, match=r"rank 0 exited \(3\)"):
        launch(_exit_early, 2, timeout=60)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_launch_times_out_on_deadlock_and_stops_every_rank(tmp_path: Any) -> None:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    launch(_rank_times_ten, 1, 0)  # the fork server is up: ranks start in well under 5 s
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish within 5 s"):
        launch(_deadlock, 2, str(pid_dir), timeout=5)
    assert time.monotonic() - start < 30
    pids = [int(p.read_text()) for p in pid_dir.iterdir()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in pids), f"rank processes {pids} still running"


def test_launch_rejects_an_empty_world() -> None:
    with pytest.raises(ValueError, match="world_size"):
        launch(_rank_times_ten, 0, 0)


# --------------------------------------------------------------------------- CUDA


def _cuda_sum(rank: int, world_size: int) -> list[float]:
    x = torch.full((5,), float(rank + 1), device="cuda")
    return ring_all_reduce(x).cpu().tolist()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensor_over_gloo_is_staged_through_the_host() -> None:
    assert launch(_cuda_sum, 2, timeout=120) == [[3.0] * 5, [3.0] * 5]
