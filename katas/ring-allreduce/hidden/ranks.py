"""The checks of the hidden suite, run from the judge on ranks that are workers.

One launch per world size (`grader.judge.ranks`): every rank is a sandboxed process
that imported solution.py and joined a gloo group; each check hands every rank its
input, calls `ring_all_reduce` on all of them at once, and compares what comes back
with the sum computed here. A check that deadlocks stops the launch; the checks after
it are reported as not run, naming the one the ranks were stuck in.

Oracles: the sum of the ranks' inputs, computed here in float64 or int64. Inputs are
integers (stored as float32 or int64) so that every summation order gives the same
exact result; one check uses random floats and compares within rounding. How many
bytes each rank sent comes from the kernel (the bytes its process wrote), not from
anything the rank reports.
"""

from __future__ import annotations

import ast
from typing import Any

import torch

from grader.judge.ranks import Check, Groups, Outcome, Ranks, run_checks
from grader.judge.workers import solution_source

LARGE = 100_003  # not divisible by 2, 3, 4 or 8
BYTES_NUMEL = 120_000  # divisible by every world size tested: chunk sizes are exact
SUBGROUPS = {"2-of-4": [1, 3], "3-of-4": [1, 2, 3]}  # only with 4 ranks
CALL_TIMEOUT_S = 12.0  # a correct call takes well under a second even on a loaded 2-core machine

# torch.distributed's collectives, by the names a solution would call them.
COLLECTIVE_NAMES = frozenset(
    {
        "all_reduce", "all_gather", "all_gather_into_tensor", "all_to_all",
        "all_to_all_single", "broadcast", "reduce", "reduce_scatter",
        "reduce_scatter_tensor", "gather", "scatter", "all_gather_object",
        "broadcast_object_list", "_all_gather_base", "_reduce_scatter_base",
    }
)  # fmt: skip


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


# --------------------------------------------------------------------------- helpers


def ints(rank: int, shape: tuple[int, ...], dtype: torch.dtype, salt: int) -> torch.Tensor:
    """Small integers, different on every rank: any summation order is exact."""
    g = torch.Generator().manual_seed(7919 * salt + rank)
    return torch.randint(-1000, 1000, shape, generator=g).to(dtype)


def total(xs: list[torch.Tensor]) -> torch.Tensor:
    """The sum over ranks, exact for integer-valued inputs."""
    wide = torch.float64 if xs[0].dtype.is_floating_point else torch.int64
    return torch.stack([x.to(wide) for x in xs]).sum(0).to(xs[0].dtype)


def reduce_all(ranks: Ranks, xs: list[torch.Tensor]) -> list[Any]:
    return ranks.call("ring_all_reduce", [(x,) for x in xs])


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
            f"from the sum over ranks; first at flat index {i}: got "
            f"{out.reshape(-1)[i].item()}, expected {expected.reshape(-1)[i].item()}"
        )


# --------------------------------------------------------------------------- checks


def sum_check(n: int, dtype: torch.dtype) -> Check:
    def check(ranks: Ranks, _groups: Groups) -> None:
        xs = [ints(r, (n,), dtype, salt=n) for r in range(ranks.world_size)]
        expected = total(xs)
        for r, out in enumerate(reduce_all(ranks, xs)):
            expect_equal(r, out, expected, f"{ranks.world_size} ranks, {n} elements of {dtype}")

    return check


def random_float32(ranks: Ranks, _groups: Groups) -> None:
    xs = [
        torch.randn(65_537, generator=torch.Generator().manual_seed(r))
        for r in range(ranks.world_size)
    ]
    expected = torch.stack([x.double() for x in xs]).sum(0)
    for r, out in enumerate(reduce_all(ranks, xs)):
        if not isinstance(out, torch.Tensor) or out.shape != expected.shape:
            raise AssertionError(f"rank {r}: returned {out!r:.80}, expected a [65537] tensor")
        err = (out.double() - expected).abs().max().item()
        if err > 1e-4:
            raise AssertionError(f"rank {r}: random floats differ from the exact sum by {err:g}")


def in_place(ranks: Ranks, _groups: Groups) -> None:
    n = ranks.world_size
    xs = [ints(r, (1000 + n,), torch.float32, salt=1) for r in range(n)]
    expected = total(xs)
    for r, out in enumerate(reduce_all(ranks, xs)):
        # The judge's `out is x` holds exactly when the rank returned its own argument.
        if out is not xs[r]:
            raise AssertionError(
                f"rank {r}: the returned tensor is not the input: the sum must be written "
                "into `tensor` itself (same storage) and `tensor` returned"
            )
        if not torch.equal(xs[r], expected):
            raise AssertionError(f"rank {r}: the input tensor does not hold the sum afterwards")


def shape_3d(ranks: Ranks, _groups: Groups) -> None:
    xs = [ints(r, (3, 5, 7), torch.float32, salt=2) for r in range(ranks.world_size)]
    expected = total(xs)
    for r, out in enumerate(reduce_all(ranks, xs)):
        expect_equal(r, out, expected, "a [3, 5, 7] tensor")


def back_to_back(ranks: Ranks, _groups: Groups) -> None:
    """Two calls that each rank makes one after the other, with nothing between them:
    a rank that finishes the first early starts sending for the second while its
    neighbours may still be receiving for the first."""
    n = ranks.world_size
    a = [ints(r, (10,), torch.int64, salt=3) for r in range(n)]
    b = [ints(r, (1000,), torch.int64, salt=4) for r in range(n)]
    want_a, want_b = total(a), total(b)
    for r, (out_a, out_b) in enumerate(ranks.call_twice("ring_all_reduce", a, b)):
        expect_equal(r, out_a, want_a, "first of two calls (10 elements)")
        expect_equal(r, out_b, want_b, "second of two calls (1000 elements)")


def _collectives_called() -> list[str]:
    """Collectives of torch.distributed that solution.py calls by name (read, not run)."""
    try:
        tree = ast.parse(solution_source())
    except SyntaxError:
        return []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in COLLECTIVE_NAMES:
                found.add(f"{name} (line {node.lineno})")
    return sorted(found)


def no_collectives(ranks: Ranks, _groups: Groups) -> None:
    n = ranks.world_size
    called = _collectives_called()
    if called:
        raise AssertionError(
            f"solution.py calls collective(s) {', '.join(called)}; only point-to-point "
            "send/recv/isend/irecv/batch_isend_irecv are allowed"
        )
    xs = [ints(r, (1000,), torch.float32, salt=5) for r in range(n)]
    expected = total(xs)
    before = ranks.bytes_sent()
    outs = reduce_all(ranks, xs)
    sent = [after - b for after, b in zip(ranks.bytes_sent(), before, strict=True)]
    if n > 1 and min(sent) < xs[0].numel() * xs[0].element_size() / n:
        quiet = [r for r, s in enumerate(sent) if s < xs[0].numel() * xs[0].element_size() / n]
        raise AssertionError(
            f"rank {quiet[0]}: sent {sent[quiet[0]]} bytes: the tensors must travel "
            "between the ranks through torch.distributed send/isend/batch_isend_irecv"
        )
    for r, out in enumerate(outs):
        expect_equal(r, out, expected, "1000 elements")


def sent_bytes(ranks: Ranks, _groups: Groups) -> None:
    n = ranks.world_size
    xs = [ints(r, (BYTES_NUMEL,), torch.float32, salt=6) for r in range(n)]
    expected = total(xs)
    before = ranks.bytes_sent()
    outs = reduce_all(ranks, xs)
    sent = [after - b for after, b in zip(ranks.bytes_sent(), before, strict=True)]
    for r, out in enumerate(outs):
        expect_equal(r, out, expected, f"{BYTES_NUMEL} elements")
    nbytes = xs[0].numel() * xs[0].element_size()
    want = 2 * (n - 1) / n * nbytes
    for r, got in enumerate(sent):
        # The kernel counts every byte the rank sent over TCP: the chunks, plus gloo's
        # small message headers (well under 1% here).
        if not 0.99 * want <= got <= 1.02 * want:
            raise AssertionError(
                f"rank {r}: sent {got} bytes for a {nbytes}-byte tensor on {n} ranks; a "
                f"ring sends 2(N-1)/N of it, {want:.0f} bytes ({got / nbytes:.2f}x the "
                f"tensor instead of {want / nbytes:.2f}x)"
            )


def subgroup(name: str, members: list[int], salt: int) -> Check:
    def check(ranks: Ranks, groups: Groups) -> None:
        n = ranks.world_size
        xs = [ints(r, (10,), torch.int64, salt=salt) for r in range(n)]
        expected = total([xs[r] for r in members])
        # Only members call a group's collectives; the others sit this one out.
        args = [(xs[r],) if r in members else None for r in range(n)]
        kwargs = [{"group": groups[name][r]} for r in range(n)]
        outs = ranks.call("ring_all_reduce", args, kwargs)
        for r in members:
            expect_equal(r, outs[r], expected, f"group of global ranks {members}, 10 elements")

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
    for salt, (name, members) in enumerate(SUBGROUPS.items(), start=10):
        table[f"subgroup-{name}"] = subgroup(name, members, salt)
    return {name: table[name] for name in check_names(world_size)}


# --------------------------------------------------------------------------- a launch


def run_world(world_size: int) -> Outcome:
    """Every check on `world_size` ranks, in order; after a deadlock the rest are not run."""
    return run_checks(
        world_size,
        checks(world_size),
        subgroups=SUBGROUPS if world_size == 4 else {},
        timeout_s=CALL_TIMEOUT_S,
        abort_hint=(
            "gloo aborts a rank whose receive does not match the size of the message sent "
            "to it: do both ends agree on every chunk's size?"
        ),
    )
