"""The checks of the hidden suite, run from the judge on ranks that are workers.

One launch per world size: every rank is a sandboxed process that imported
solution.py and joined a gloo group; each check hands every rank its own shard of a
table (never the whole table), calls the solution on all ranks at once, and compares
what every rank returns with a single-process nn.Embedding (`oracle`).

Collectives are the point of this kata, so the ranks' groups allow them. A launch
stops early when one rank raised while the others are still inside the call (they are
waiting in a collective that rank never joined); after that, or a deadlock, the checks
that follow are reported as not run, naming the check the ranks were stuck in.

That no rank fetches the table is checked from the kernel: the bytes each rank's
process sent over TCP (`Ranks.bytes_sent`) must be of the order of the output, far
below the table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import oracle
import torch
from torch import Tensor

from grader.judge.ranks import Check, Groups, Outcome, Ranks, one_line, run_checks

CALL_TIMEOUT_S = 12.0  # a correct call takes milliseconds even on a loaded 2-core machine
GROUPS = {"2-of-4": [1, 3], "3-of-4": [0, 1, 2]}  # only with 4 ranks
DIM = 6  # embedding width of the small vocabulary-split cases
VOCAB = 11  # vocabulary of the small column-split cases
# The "no table" cases: a 1 MiB float32 table, an output of 8 KiB.
BIG_VOCAB, BIG_DIM, BIG_IDS = 8192, 32, (4, 16)


# --------------------------------------------------------------------------- comparing


def _where(index: int, shape: torch.Size) -> tuple[int, ...]:
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(index), shape))


def expect_equal(
    who: str,
    out: Any,
    expected: Tensor,
    what: str,
    explain: Callable[[tuple[int, ...]], str],
    atol: float = 0.0,
) -> None:
    """`out` equals `expected` (shape, dtype, values within `atol`); else say where not.
    `explain` turns the position of the first difference into words."""
    if not isinstance(out, Tensor):
        raise AssertionError(f"{who}: {what}: returned {type(out).__name__}, expected a tensor")
    if out.shape != expected.shape or out.dtype != expected.dtype:
        raise AssertionError(
            f"{who}: {what}: returned shape {tuple(out.shape)} {out.dtype}, "
            f"expected {tuple(expected.shape)} {expected.dtype}"
        )
    wrong = (out.double() - expected.double()).abs() > atol
    wrong |= out.isnan() != expected.isnan()
    if bool(wrong.any()):
        i = int(wrong.reshape(-1).nonzero()[0])
        at = _where(i, expected.shape)
        raise AssertionError(
            f"{who}: {what}: {int(wrong.sum())} of {expected.numel()} values differ "
            f"from nn.Embedding; first at index {list(at)} ({explain(at)}): got "
            f"{out.reshape(-1)[i].item():g}, expected {expected.reshape(-1)[i].item():g}"
        )


def _owner(size: int, n: int, index: int) -> int:
    """The rank whose shard holds `index`: shards are contiguous from 0, in rank order."""
    return next(r for r in range(n) if index < oracle.shard(size, n, r)[1])


def explain_row(ids: Tensor, vocab: int, n: int) -> Callable[[tuple[int, ...]], str]:
    def explain(at: tuple[int, ...]) -> str:
        token = int(ids[at[:-1]]) if ids.dim() else int(ids)
        return f"id {token}, owned by rank {_owner(vocab, n, token)} of {n}"

    return explain


def explain_col(dim: int, n: int) -> Callable[[tuple[int, ...]], str]:
    def explain(at: tuple[int, ...]) -> str:
        col = at[-1]
        return f"column {col}, held by rank {_owner(dim, n, col)} of {n}"

    return explain


def explain_grad(start: int) -> Callable[[tuple[int, ...]], str]:
    def explain(at: tuple[int, ...]) -> str:
        return f"local row {at[0]}, the gradient of id {start + at[0]}"

    return explain


# --------------------------------------------------------------------------- checks


def _members(ranks: Ranks, group: str | None) -> list[int]:
    return list(range(ranks.world_size)) if group is None else GROUPS[group]


def _call(
    ranks: Ranks,
    groups: Groups,
    name: str,
    group: str | None,
    args: Callable[[int, int], tuple[Any, ...]],
) -> list[tuple[str, Any]]:
    """`name(*args(group_rank, n), group=...)` on every member at once: (who, result) by
    group rank. Ranks outside the group sit the call out."""
    members = _members(ranks, group)
    per_rank: list[tuple[Any, ...] | None] = [None] * ranks.world_size
    for i, r in enumerate(members):
        per_rank[r] = args(i, len(members))
    kwargs = [{} if group is None else {"group": groups[group][r]} for r in range(ranks.world_size)]
    outs = ranks.call(name, per_rank, kwargs)
    if group is None:
        return [(f"rank {r}", outs[r]) for r in members]
    return [(f"group rank {i} (global rank {r})", outs[r]) for i, r in enumerate(members)]


def shard_ranges(ranks: Ranks, _groups: Groups) -> None:
    n = ranks.world_size
    for (size, world), want in oracle.HAND_WORKED.items():
        outs = ranks.call("shard_range", [(size, world, r % world) for r in range(n)])
        for r, got in enumerate(outs):
            expected = want[r % world]
            if not isinstance(got, tuple | list) or tuple(got) != expected:
                raise AssertionError(
                    f"shard_range({size}, {world}, {r % world}) returned {got!r}, expected "
                    f"{expected} (shards of ceil({size} / {world}) = {-(-size // world)}, "
                    f"both ends clamped to {size})"
                )


def vocab_forward(
    vocab: int,
    shape: tuple[int, ...],
    salt: int,
    group: str | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    ids_dtype: torch.dtype = torch.int64,
    dim: int = DIM,
) -> Check:
    def check(ranks: Ranks, groups: Groups) -> None:
        weight = oracle.table(vocab, dim, salt, dtype)
        ids = oracle.ids_covering(vocab, shape, salt)
        expected = oracle.lookup(weight, ids)

        def args(r: int, n: int) -> tuple[Any, ...]:
            start, end = oracle.shard(vocab, n, r)
            return ids.to(ids_dtype), weight[start:end].clone(), vocab

        outs = _call(ranks, groups, "vocab_parallel_embedding", group, args)
        n = len(outs)
        what = f"vocab {vocab} on {n} ranks, ids {list(shape)} of {ids_dtype}, weights {dtype}"
        for who, out in outs:
            expect_equal(who, out, expected, what, explain_row(ids, vocab, n))

    return check


def vocab_shapes(ranks: Ranks, groups: Groups) -> None:
    for shape in [(), (2, 3, 4), (2, 0)]:
        vocab_forward(10, shape, salt=20 + len(shape))(ranks, groups)


def inputs_unchanged(ranks: Ranks, _groups: Groups) -> None:
    n, vocab = ranks.world_size, 10
    weight = oracle.table(vocab, DIM, 30)
    ids = oracle.ids_covering(vocab, (4, 5), 30)
    args = [
        (ids.clone(), weight[slice(*oracle.shard(vocab, n, r))].clone(), vocab) for r in range(n)
    ]
    ranks.call("vocab_parallel_embedding", args)
    for r, (ids_r, shard_r, _) in enumerate(args):
        start, end = oracle.shard(vocab, n, r)
        if not torch.equal(ids_r, ids):
            raise AssertionError(f"rank {r}: vocab_parallel_embedding changed its ids argument")
        if not torch.equal(shard_r, weight[start:end]):
            raise AssertionError(f"rank {r}: vocab_parallel_embedding changed weight_shard")


def _expect_index_error(ranks: Ranks, name: str, per_rank: list[tuple[Any, ...]], bad: int) -> None:
    outs = ranks.call_each(name, per_rank)
    for r, out in enumerate(outs):
        if not isinstance(out, IndexError):
            got = (
                f"raised {one_line(out)}" if isinstance(out, BaseException)
                else f"returned {type(out).__name__}"
            )  # fmt: skip
            raise AssertionError(
                f"rank {r}: {name} with id {bad} {got}; every rank must raise IndexError "
                "for an id outside [0, vocab_size)"
            )


def out_of_range(name: str) -> Check:
    def check(ranks: Ranks, _groups: Groups) -> None:
        n, vocab = ranks.world_size, 10
        weight = oracle.table(vocab, DIM, 40)
        for bad in (vocab, -1):
            ids = torch.tensor([[0, 9], [bad, 4]])
            if name == "dim_parallel_embedding":
                per_rank = [
                    (ids, weight[:, slice(*oracle.shard(DIM, n, r))].clone(), DIM) for r in range(n)
                ]
            elif name == "vocab_parallel_embedding":
                per_rank = [
                    (ids, weight[slice(*oracle.shard(vocab, n, r))].clone(), vocab)
                    for r in range(n)
                ]
            else:
                per_rank = [(ids, torch.ones(2, 2, DIM), vocab)] * n
            _expect_index_error(ranks, name, per_rank, bad)

    return check


def _sent_during(ranks: Ranks, call: Callable[[], None]) -> list[int]:
    before = ranks.bytes_sent()
    call()
    return [after - b for after, b in zip(ranks.bytes_sent(), before, strict=True)]


def no_table(name: str) -> Check:
    """A correct rank sends partial outputs (a few times the output's 8 KiB); fetching
    the other shards of the 1 MiB table sends at least (N-1)/N of it."""

    def check(ranks: Ranks, _groups: Groups) -> None:
        n = ranks.world_size
        weight = oracle.table(BIG_VOCAB, BIG_DIM, 50)
        ids = oracle.ids_covering(BIG_VOCAB, BIG_IDS, 50)
        expected = oracle.lookup(weight, ids)
        if name == "vocab_parallel_embedding":
            args = [
                (ids, weight[slice(*oracle.shard(BIG_VOCAB, n, r))].clone(), BIG_VOCAB)
                for r in range(n)
            ]
            explain = explain_row(ids, BIG_VOCAB, n)
        else:
            args = [
                (ids, weight[:, slice(*oracle.shard(BIG_DIM, n, r))].clone(), BIG_DIM)
                for r in range(n)
            ]
            explain = explain_col(BIG_DIM, n)
        outs: list[Any] = []
        sent = _sent_during(ranks, lambda: outs.extend(ranks.call(name, args)))
        table_bytes = weight.numel() * weight.element_size()
        out_bytes = expected.numel() * expected.element_size()
        budget = 4 * out_bytes + 65536
        for r, got in enumerate(sent):
            if got > budget:
                raise AssertionError(
                    f"rank {r}: sent {got} bytes for an output of {out_bytes} bytes from a "
                    f"{table_bytes}-byte table on {n} ranks; exchanging the partial outputs "
                    f"sends a few times the output (at most {budget} bytes allowed here), "
                    "fetching the other ranks' shards of the table sends most of the table"
                )
        for r, out in enumerate(outs):
            what = f"{BIG_VOCAB} x {BIG_DIM} table on {n} ranks"
            expect_equal(f"rank {r}", out, expected, what, explain)

    return check


def dim_forward(dim: int, shape: tuple[int, ...], salt: int, group: str | None = None) -> Check:
    def check(ranks: Ranks, groups: Groups) -> None:
        weight = oracle.table(VOCAB, dim, salt)
        ids = oracle.ids_covering(VOCAB, shape, salt)
        expected = oracle.lookup(weight, ids)

        def args(r: int, n: int) -> tuple[Any, ...]:
            start, end = oracle.shard(dim, n, r)
            return ids, weight[:, start:end].clone(), dim

        outs = _call(ranks, groups, "dim_parallel_embedding", group, args)
        n = len(outs)
        what = f"embedding_dim {dim} on {n} ranks, ids {list(shape)}"
        for who, out in outs:
            expect_equal(who, out, expected, what, explain_col(dim, n))

    return check


def dim_shapes(ranks: Ranks, groups: Groups) -> None:
    for shape in [(), (2, 3, 4), (2, 0)]:
        dim_forward(10, shape, salt=60 + len(shape))(ranks, groups)


def backward(
    vocab: int,
    ids: Tensor | tuple[int, ...],
    salt: int,
    group: str | None = None,
    *,
    exact: bool = True,
    dtype: torch.dtype = torch.float32,
) -> Check:
    """`exact`: grad_output of small integers in `dtype` (exact sums, compared exactly);
    else random float32 values, compared within rounding. The peer's table has the same
    dtype, so its gradient is in grad_output's dtype, as the prompt asks."""

    def check(ranks: Ranks, groups: Groups) -> None:
        token_ids = ids if isinstance(ids, Tensor) else oracle.ids_covering(vocab, ids, salt)
        shape = (*token_ids.shape, DIM)
        if exact:
            grad_output = oracle.int_grads(shape, salt, dtype)
        else:
            grad_output = torch.randn(shape, generator=torch.Generator().manual_seed(salt))
        full = oracle.weight_grad(oracle.table(vocab, DIM, salt, dtype), token_ids, grad_output)
        outs = _call(
            ranks, groups, "vocab_parallel_embedding_backward", group,
            lambda r, n: (token_ids, grad_output, vocab),
        )  # fmt: skip
        n = len(outs)
        what = (
            f"weight gradient, vocab {vocab} on {n} ranks, ids {list(token_ids.shape)}, "
            f"grad_output {grad_output.dtype}"
        )
        for r, (who, out) in enumerate(outs):
            start, end = oracle.shard(vocab, n, r)
            expect_equal(
                who, out, full[start:end], f"{what} (rows [{start}, {end}))",
                explain_grad(start), 0.0 if exact else 1e-5,
            )  # fmt: skip

    return check


def backward_shapes(ranks: Ranks, groups: Groups) -> None:
    for shape in [(), (2, 3, 4), (2, 0)]:
        backward(10, shape, salt=70 + len(shape))(ranks, groups)


# Ids that repeat (1 four times, 4 twice) and leave most of the vocabulary out.
REPEATED = torch.tensor([[1, 1, 1, 4], [4, 9, 1, 0]])


def checks(world_size: int) -> dict[str, Check]:
    """Every check one launch of `world_size` ranks runs, in the order it runs them."""
    if world_size == 1:
        return {
            "shard-range": shard_ranges,
            "vocab-one-rank": vocab_forward(10, (4, 5), salt=1),
            "dim-one-rank": dim_forward(10, (4, 5), salt=2),
            "backward-one-rank": backward(10, (4, 5), salt=3),
        }
    return {
        "shard-range": shard_ranges,
        "vocab-divisible": vocab_forward(8, (4, 5), salt=4),
        "vocab-short-last-shard": vocab_forward(10, (4, 5), salt=5),
        "vocab-empty-last-shard": vocab_forward(9, (4, 5), salt=6),
        "vocab-fewer-rows-than-ranks": vocab_forward(2, (3, 2), salt=7),
        "vocab-shapes": vocab_shapes,
        "vocab-int32-ids-bfloat16": vocab_forward(
            10, (4, 5), salt=8, dtype=torch.bfloat16, ids_dtype=torch.int32
        ),
        "vocab-inputs-unchanged": inputs_unchanged,
        "vocab-out-of-range": out_of_range("vocab_parallel_embedding"),
        "vocab-no-table": no_table("vocab_parallel_embedding"),
        "dim-divisible": dim_forward(16, (4, 5), salt=9),
        "dim-short-last-shard": dim_forward(10, (4, 5), salt=10),
        "dim-empty-last-shard": dim_forward(6, (4, 5), salt=11),
        "dim-fewer-columns-than-ranks": dim_forward(3, (4, 5), salt=12),
        "dim-shapes": dim_shapes,
        "dim-out-of-range": out_of_range("dim_parallel_embedding"),
        "dim-no-table": no_table("dim_parallel_embedding"),
        "backward-short-last-shard": backward(10, (4, 5), salt=13),
        "backward-empty-last-shard": backward(9, (4, 5), salt=14),
        "backward-repeated-ids": backward(10, REPEATED, salt=15),
        "backward-random-floats": backward(1000, (8, 64), salt=16, exact=False),
        "backward-shapes": backward_shapes,
        "backward-bfloat16": backward(10, REPEATED, salt=21, dtype=torch.bfloat16),
        "backward-out-of-range": out_of_range("vocab_parallel_embedding_backward"),
        "vocab-group-2-of-4": vocab_forward(5, (3, 4), salt=17, group="2-of-4"),
        "vocab-group-3-of-4": vocab_forward(7, (3, 4), salt=18, group="3-of-4"),
        "dim-group-3-of-4": dim_forward(7, (3, 4), salt=19, group="3-of-4"),
        "backward-group-2-of-4": backward(5, (3, 4), salt=20, group="2-of-4"),
    }


# --------------------------------------------------------------------------- a launch


def run_world(world_size: int) -> Outcome:
    """Every check on `world_size` ranks, in order; after a deadlock the rest are not run."""
    return run_checks(
        world_size,
        checks(world_size),
        subgroups=GROUPS if world_size == 4 else {},
        timeout_s=CALL_TIMEOUT_S,
        point_to_point_only=False,  # collectives are the point here
        abort_hint=(
            "gloo aborts a rank that receives a message of another size than it expects: "
            "does every rank pass blocks of the same shape to all_gather?"
        ),
    )
