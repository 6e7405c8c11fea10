"""What each rank runs for the hidden suite: the checks, a traffic meter, a log.

One launch per world size runs every check in every rank, in order, with a barrier
between checks. Each rank appends a JSON line per check to its own log file as it
goes, so the parent can grade the checks that finished even when a later one
deadlocks or crashes the launch, and can say which check a rank was stuck in.

Oracles: `dist.all_reduce` (gloo's own all-reduce) on a copy of the same input,
computed before the candidate runs. Inputs are integers (stored as float32 or int64)
so that every summation order gives the same exact result; one check uses random
floats and compares within rounding.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import solution as sol
import torch
import torch.distributed as dist

LARGE = 100_003  # not divisible by 2, 3, 4 or 8
BYTES_NUMEL = 120_000  # divisible by every world size tested: chunk sizes are exact
SUBGROUPS = {"2-of-4": [1, 3], "3-of-4": [1, 2, 3]}  # only with 4 ranks

# ProcessGroup methods behind every collective of torch.distributed.
COLLECTIVES = (
    "allreduce",
    "allreduce_coalesced",
    "broadcast",
    "allgather",
    "_allgather_base",
    "allgather_coalesced",
    "allgather_into_tensor_coalesced",
    "all_gather_single",
    "all_gather_single_coalesced",
    "reduce_scatter",
    "_reduce_scatter_base",
    "reduce_scatter_single",
    "reduce_scatter_single_coalesced",
    "reduce_scatter_tensor_coalesced",
    "reduce",
    "gather",
    "scatter",
    "alltoall",
    "alltoall_base",
    "all_to_all_single",
)


def small_lengths(world_size: int) -> list[int]:
    """Lengths around the number of ranks: not divisible by it, and fewer elements."""
    return list(dict.fromkeys([world_size + 1, world_size - 1, 1, 0]))


def check_names(world_size: int) -> list[str]:
    """Every check one launch of `world_size` ranks runs, in the order it runs them."""
    names = [f"float32-len{LARGE}", f"int64-len{LARGE}", "random-float32", "in-place"]
    names += ["shape-3d", "back-to-back", "no-collectives"]
    if world_size > 1:
        names.append("bytes")
    names += [f"float32-len{n}" for n in small_lengths(world_size)]
    names.append(f"int64-len{world_size + 1}")
    if world_size == 4:
        names += [f"subgroup-{name}" for name in SUBGROUPS]
    return names


# --------------------------------------------------------------------------- traffic


@dataclass
class Traffic:
    sent_bytes: int = 0
    messages: int = 0
    collectives: list[str] = field(default_factory=list)


@contextmanager
def metered(traffic: Traffic) -> Iterator[Traffic]:
    """Count what this rank sends and make every collective raise.

    Patched on ProcessGroup itself: `send`, `isend` and `batch_isend_irecv` all end
    in `ProcessGroup.send`, whatever name the candidate imported them under.
    """
    pg: Any = dist.ProcessGroup
    names = [name for name in ("send", *COLLECTIVES) if name in vars(pg)]
    # The raw class attributes (pybind11 method descriptors), to put back as they were.
    raw = {name: vars(pg)[name] for name in names}
    saved = {name: getattr(pg, name) for name in names}

    def send(self: Any, tensors: list[torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        traffic.sent_bytes += sum(t.numel() * t.element_size() for t in tensors)
        traffic.messages += 1
        return saved["send"](self, tensors, *args, **kwargs)

    def forbidden(name: str) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            traffic.collectives.append(name)
            raise RuntimeError(
                f"collective ProcessGroup.{name} called: only point-to-point "
                "send/recv/isend/irecv/batch_isend_irecv are allowed"
            )

        return call

    pg.send = send
    for name in saved:
        if name != "send":
            setattr(pg, name, forbidden(name))
    try:
        yield traffic
    finally:
        for name, descriptor in raw.items():
            setattr(pg, name, descriptor)


# --------------------------------------------------------------------------- helpers


def ints(rank: int, shape: tuple[int, ...], dtype: torch.dtype, salt: int) -> torch.Tensor:
    """Small integers, different on every rank: any summation order is exact."""
    g = torch.Generator().manual_seed(7919 * salt + rank)
    return torch.randint(-1000, 1000, shape, generator=g).to(dtype)


def oracle(x: torch.Tensor, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    expected = x.clone()
    dist.all_reduce(expected, group=group)
    return expected


def call(
    x: torch.Tensor, group: dist.ProcessGroup | None = None, traffic: Traffic | None = None
) -> tuple[Any, Traffic]:
    """The candidate's all-reduce of `x`, metered."""
    with metered(traffic or Traffic()) as seen:
        out = sol.ring_all_reduce(x) if group is None else sol.ring_all_reduce(x, group)
    return out, seen


def expect_equal(rank: int, out: Any, expected: torch.Tensor, what: str) -> None:
    if not isinstance(out, torch.Tensor):
        raise AssertionError(f"rank {rank}: ring_all_reduce returned {type(out).__name__}")
    if out.shape != expected.shape or out.dtype != expected.dtype:
        raise AssertionError(
            f"rank {rank}: {what}: returned shape {tuple(out.shape)} {out.dtype}, "
            f"expected {tuple(expected.shape)} {expected.dtype}"
        )
    if not torch.equal(out, expected):
        bad = (out != expected).reshape(-1).nonzero().view(-1)
        i = int(bad[0])
        raise AssertionError(
            f"rank {rank}: {what}: {bad.numel()} of {expected.numel()} elements differ "
            f"from dist.all_reduce; first at flat index {i}: got "
            f"{out.reshape(-1)[i].item()}, expected {expected.reshape(-1)[i].item()}"
        )


# --------------------------------------------------------------------------- checks


@dataclass
class Rank:
    """What a check knows about the process it runs in."""

    rank: int
    world_size: int
    groups: dict[str, dist.ProcessGroup]


Check = Callable[[Rank], None]


def sum_check(n: int, dtype: torch.dtype) -> Check:
    def check(r: Rank) -> None:
        x = ints(r.rank, (n,), dtype, salt=n)
        expected = oracle(x)
        out, _ = call(x)
        expect_equal(r.rank, out, expected, f"{r.world_size} ranks, {n} elements of {dtype}")

    return check


def random_float32(r: Rank) -> None:
    rank = r.rank
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(65_537, generator=g)
    expected = oracle(x)
    out, _ = call(x)
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape:
        raise AssertionError(f"rank {rank}: returned {out!r:.80}, expected a [65537] tensor")
    err = (out - expected).abs().max().item()
    if err > 1e-4:
        raise AssertionError(f"rank {rank}: random floats differ from dist.all_reduce by {err:g}")


def in_place(r: Rank) -> None:
    rank, world_size = r.rank, r.world_size
    x = ints(rank, (1000 + world_size,), torch.float32, salt=1)
    expected = oracle(x)
    ptr = x.data_ptr()
    out, _ = call(x)
    if not isinstance(out, torch.Tensor) or out.data_ptr() != ptr or out.shape != x.shape:
        raise AssertionError(
            f"rank {rank}: the returned tensor is not the input: the sum must be written "
            "into `tensor` itself (same storage) and `tensor` returned"
        )
    if not torch.equal(x, expected):
        raise AssertionError(f"rank {rank}: the input tensor does not hold the sum afterwards")


def shape_3d(r: Rank) -> None:
    rank = r.rank
    x = ints(rank, (3, 5, 7), torch.float32, salt=2)
    expected = oracle(x)
    out, _ = call(x)
    expect_equal(rank, out, expected, "a [3, 5, 7] tensor")


def back_to_back(r: Rank) -> None:
    rank = r.rank
    a = ints(rank, (10,), torch.int64, salt=3)
    b = ints(rank, (1000,), torch.int64, salt=4)
    want_a, want_b = oracle(a), oracle(b)
    out_a, _ = call(a)
    out_b, _ = call(b)
    expect_equal(rank, out_a, want_a, "first of two calls (10 elements)")
    expect_equal(rank, out_b, want_b, "second of two calls (1000 elements)")


def no_collectives(r: Rank) -> None:
    rank, world_size = r.rank, r.world_size
    x = ints(rank, (1000,), torch.float32, salt=5)
    expected = oracle(x)
    traffic = Traffic()
    try:
        out, _ = call(x, traffic=traffic)
    except Exception:
        if not traffic.collectives:
            raise  # some other failure: report it as it is
        out = None
    if traffic.collectives:
        raise AssertionError(
            f"rank {rank}: called collective(s) {sorted(set(traffic.collectives))}; "
            "only point-to-point calls are allowed"
        )
    if world_size > 1 and traffic.sent_bytes == 0:
        raise AssertionError(
            f"rank {rank}: no point-to-point send was seen: the tensors must travel "
            "through torch.distributed send/isend/batch_isend_irecv"
        )
    expect_equal(rank, out, expected, "1000 elements")


def sent_bytes(r: Rank) -> None:
    rank, world_size = r.rank, r.world_size
    x = ints(rank, (BYTES_NUMEL,), torch.float32, salt=6)
    expected = oracle(x)
    out, traffic = call(x)
    expect_equal(rank, out, expected, f"{BYTES_NUMEL} elements")
    nbytes = x.numel() * x.element_size()
    want = 2 * (world_size - 1) / world_size * nbytes
    if not 0.99 * want <= traffic.sent_bytes <= 1.01 * want:
        raise AssertionError(
            f"rank {rank}: sent {traffic.sent_bytes} bytes for a {nbytes}-byte tensor on "
            f"{world_size} ranks; a ring sends 2(N-1)/N of it, {want:.0f} bytes "
            f"({traffic.sent_bytes / nbytes:.2f}x the tensor instead of "
            f"{want / nbytes:.2f}x)"
        )


def subgroup(name: str, ranks: list[int], salt: int) -> Check:
    def check(r: Rank) -> None:
        if r.rank not in ranks:
            return  # only members call a group's collectives
        x = ints(r.rank, (10,), torch.int64, salt=salt)
        expected = oracle(x, r.groups[name])
        out, _ = call(x, r.groups[name])
        expect_equal(r.rank, out, expected, f"group of global ranks {ranks}, 10 elements")

    return check


def checks(world_size: int) -> dict[str, Check]:
    table: dict[str, Check] = {
        f"float32-len{LARGE}": sum_check(LARGE, torch.float32),
        f"int64-len{LARGE}": sum_check(LARGE, torch.int64),
        "random-float32": random_float32,
        "in-place": in_place,
        "shape-3d": shape_3d,
        "back-to-back": back_to_back,
        "no-collectives": no_collectives,
        "bytes": sent_bytes,
    }
    for n in small_lengths(world_size):
        table[f"float32-len{n}"] = sum_check(n, torch.float32)
    table[f"int64-len{world_size + 1}"] = sum_check(world_size + 1, torch.int64)
    for salt, (name, ranks) in enumerate(SUBGROUPS.items(), start=10):
        table[f"subgroup-{name}"] = subgroup(name, ranks, salt)
    return {name: table[name] for name in check_names(world_size)}


# --------------------------------------------------------------------------- rank


def _failure(exc: BaseException) -> str:
    """The exception in one line, with where in solution.py it came from."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.basename(frame.filename) == "solution.py":
            where = f" (solution.py line {frame.lineno}: {frame.line})"
    if isinstance(exc, AssertionError):
        return str(exc)
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"{what}{where}"


def _forget_reference() -> None:
    """Drop the reference stack from this rank's module cache.

    A forked rank inherits `sys.modules`, where the suite's launcher put
    `reference.collectives`; an import of a cached module never reaches the grader's
    import guard, so without this solution.py could borrow the reference at run time.
    """
    for name in [m for m in sys.modules if m == "reference" or m.startswith("reference.")]:
        del sys.modules[name]


def rank_main(rank: int, world_size: int, log_dir: str) -> None:
    """Run every check of `world_size` in order, logging each one as it finishes."""
    _forget_reference()
    todo = checks(world_size)
    # new_group is collective: every rank creates every group, members or not.
    groups = {} if world_size != 4 else {n: dist.new_group(g) for n, g in SUBGROUPS.items()}
    ctx = Rank(rank, world_size, groups)
    path = os.path.join(log_dir, f"rank{rank}.jsonl")
    with open(path, "a", buffering=1) as log:
        for name, check in todo.items():
            log.write(json.dumps({"check": name, "started": True}) + "\n")
            error: str | None = None
            try:
                check(ctx)
            except Exception as exc:
                error = _failure(exc)
            log.write(json.dumps({"check": name, "error": error}) + "\n")
            # Nobody starts the next check while a neighbour may still be sending
            # for this one (and a rank that failed alone stops everyone here).
            dist.barrier()
