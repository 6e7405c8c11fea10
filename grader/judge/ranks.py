"""Ranks of a process group, each a worker running the solution: for collectives katas.

    with launch(4) as ranks:
        outs = ranks.call("ring_all_reduce", [(x0,), (x1,), (x2,), (x3,)])
        group = ranks.new_group([1, 3])              # one handle per rank
        sent = ranks.bytes_sent()                    # per rank, from the kernel

Every rank is a sandboxed worker (loopback TCP allowed) that has joined a gloo group
of `world_size`; a call runs on every rank at once, one thread each here, and waits
for all of them. A rank that does not answer within the timeout (a deadlock) stops
every rank: the call raises `Deadlock` naming the ranks that had not returned. When
one rank raises while others are still inside the call, they are waiting in a
collective that rank never joined: they get `RAISED_GRACE_S` to return, then the
launch stops with a `Deadlock` that names the rank that raised and what it raised.
How much each rank sent over TCP is read from the kernel (`grader.judge.traffic`).

Groups allow point-to-point calls only unless `point_to_point_only=False` (a kata
whose point is the collectives themselves).

A hidden suite runs its checks with `run_checks`: every check of one world size on one
launch, in order, each check's failure recorded, and after a deadlock or a broken group
the checks that follow reported as not run, naming the one the ranks were stuck in.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from grader.judge import workers
from grader.judge.remote import RemoteObject, WorkerDied
from grader.judge.traffic import tcp_bytes_sent

INIT_TIMEOUT_S = 30.0
# gloo's own timeout is longer than the judge's: a deadlock is always the judge's
# verdict ("did not finish within ..."), never a race with gloo's error message.
GLOO_GRACE_S = 30.0
RAISED_GRACE_S = 2.0  # after one rank raised, how long the others get to return


class Deadlock(Exception):
    """Some ranks did not return from a collective call in time; every rank was stopped."""


class Ranks:
    def __init__(
        self, world_size: int, timeout_s: float, *, point_to_point_only: bool = True
    ) -> None:
        self.world_size = world_size
        self.timeout_s = timeout_s
        self.sessions = [workers.new_candidate(f"rank{r}") for r in range(world_size)]
        self.broken = ""
        port = _free_port()
        self._all(
            "joining the process group",
            [
                {"op": "dist_init", "rank": r, "world_size": world_size, "port": port,
                 "timeout_s": timeout_s + GLOO_GRACE_S,
                 "point_to_point_only": point_to_point_only}
                for r in range(world_size)
            ],
            INIT_TIMEOUT_S,
        )  # fmt: skip

    def call(
        self,
        name: str,
        per_rank: Sequence[tuple[Any, ...] | None],
        kwargs: Sequence[dict[str, Any]] | None = None,
    ) -> list[Any]:
        """`name(*per_rank[r], **kwargs[r])` on every rank r at once; each rank's result.
        A rank whose arguments are None sits the call out (None as its result)."""
        kws = kwargs or [{}] * self.world_size
        messages: list[dict[str, Any] | None] = [
            None if args is None else {"op": "call", "name": name, "args": args, "kwargs": kw}
            for args, kw in zip(per_rank, kws, strict=True)
        ]
        return self._all(name, messages, self.timeout_s)

    def call_each(
        self, name: str, per_rank: Sequence[tuple[Any, ...] | None]
    ) -> list[Any | BaseException]:
        """Like `call`, but each rank's exception comes back in its place, not raised."""
        messages: list[dict[str, Any] | None] = [
            None if args is None else {"op": "call", "name": name, "args": args, "kwargs": {}}
            for args in per_rank
        ]
        results, errors = self._run(name, messages, self.timeout_s)
        return [e if e is not None else r for r, e in zip(results, errors, strict=True)]

    def call_twice(
        self, name: str, first: Sequence[Any], second: Sequence[Any]
    ) -> list[tuple[Any, Any]]:
        """`name(first[r])` then `name(second[r])` on each rank with no wait between them
        (one round trip per rank): a fast rank starts the second call early."""
        messages: list[dict[str, Any] | None] = [
            {"op": "batch", "calls": [[None, name, [a], {}], [None, name, [b], {}]]}
            for a, b in zip(first, second, strict=True)
        ]
        results = self._all(name, messages, self.timeout_s)
        return [(pair[0], pair[1]) for pair in results]

    def new_group(self, members: list[int]) -> list[RemoteObject]:
        """`dist.new_group(members)` on every rank (it is collective): a handle per rank."""
        messages = [{"op": "dist_new_group", "ranks": members}] * self.world_size
        return self._all("dist.new_group", messages, INIT_TIMEOUT_S)

    def bytes_sent(self) -> list[int]:
        """Bytes each rank has sent over TCP so far (the kernel's count, `traffic`)."""
        return [tcp_bytes_sent(session.worker().pid) for session in self.sessions]

    def close(self) -> None:
        for session in self.sessions:
            session.close()

    def _all(
        self, what: str, messages: Sequence[dict[str, Any] | None], timeout_s: float
    ) -> list[Any]:
        results, errors = self._run(what, messages, timeout_s)
        for r, error in enumerate(errors):
            if error is not None:
                error.add_note(f"on rank {r} of {self.world_size}")
                raise error
        return results

    def _run(
        self, what: str, messages: Sequence[dict[str, Any] | None], timeout_s: float
    ) -> tuple[list[Any], list[BaseException | None]]:
        """Send every rank its message at once; each rank's result and exception."""
        if self.broken:
            raise Deadlock(f"not run: {self.broken}")
        results: list[Any] = [None] * self.world_size
        errors: list[BaseException | None] = [None] * self.world_size
        finished: queue.Queue[int] = queue.Queue()

        def run(r: int, message: dict[str, Any]) -> None:
            try:
                session = self.sessions[r]
                if message["op"] == "call":
                    results[r] = session.call(
                        None, message["name"], message["args"], message["kwargs"]
                    )
                else:
                    results[r] = session.request(dict(message))["ok"]
            except BaseException as exc:
                errors[r] = exc
            finally:
                finished.put(r)

        waiting = set()
        for r, message in enumerate(messages):
            if message is not None:
                waiting.add(r)
                threading.Thread(target=run, args=(r, message), daemon=True).start()
        deadline = time.monotonic() + timeout_s
        raised: int | None = None
        while waiting:
            try:
                r = finished.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                break
            waiting.discard(r)
            if errors[r] is not None and raised is None:
                raised = r
                deadline = min(deadline, time.monotonic() + RAISED_GRACE_S)
        if waiting:
            self.broken = self._stuck(what, sorted(waiting), errors, raised, timeout_s)
            self.close()
            raise Deadlock(self.broken)
        return results, errors

    def _stuck(
        self,
        what: str,
        stuck: list[int],
        errors: list[BaseException | None],
        raised: int | None,
        timeout_s: float,
    ) -> str:
        ranks = f"rank{'s' if len(stuck) > 1 else ''} {', '.join(map(str, stuck))}"
        died = [r for r, e in enumerate(errors) if isinstance(e, WorkerDied)]
        if died:  # its peers' errors (a connection reset) only follow from it
            raised = died[0]
        if raised is None:
            return (
                f"{self.world_size} ranks did not finish {what} within {timeout_s:g} s; "
                f"still inside it: {ranks}"
            )
        return (
            f"rank {raised} raised {one_line(errors[raised])} while {ranks} "
            f"waited inside {what} (a collective that rank {raised} never joined?)"
        )


def one_line(exc: BaseException | None, limit: int = 300) -> str:
    """An exception as `Type: message` on one line, cut at `limit` characters."""
    if exc is None:
        return "nothing"
    line = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def launch(
    world_size: int, timeout_s: float = 12.0, *, point_to_point_only: bool = True
) -> Iterator[Ranks]:
    ranks = Ranks(world_size, timeout_s, point_to_point_only=point_to_point_only)
    try:
        yield ranks
    finally:
        ranks.close()


# -- running a suite's checks on one launch ---------------------------------------------

Groups = dict[str, list[RemoteObject]]  # a handle per rank for each subgroup
Check = Callable[[Ranks, Groups], None]  # raises AssertionError (or anything) to fail


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


def run_checks(
    world_size: int,
    checks: Mapping[str, Check],
    *,
    subgroups: Mapping[str, list[int]],
    timeout_s: float,
    point_to_point_only: bool = True,
    abort_hint: str = "",
) -> Outcome:
    """Every check on one launch of `world_size` ranks, in order; after a deadlock or a
    broken group the rest are not run. `abort_hint` is added when a rank was aborted."""
    errors: dict[str, str | None] = {}
    launch_error: str | None = None
    try:
        with launch(world_size, timeout_s, point_to_point_only=point_to_point_only) as ranks:
            # new_group is collective: every rank creates every group, members or not.
            groups = {n: ranks.new_group(g) for n, g in subgroups.items()}
            for name, check in checks.items():
                try:
                    check(ranks, groups)
                    errors[name] = None
                except Deadlock as exc:
                    launch_error = f"{exc} (in check {name})"
                    break
                except AssertionError as exc:
                    errors[name] = str(exc)
                except Exception as exc:
                    errors[name] = _failure(exc)
                    if _broken(exc):
                        launch_error = f"the process group broke in check {name}"
                        break
    except Deadlock as exc:  # before the first check: joining the group
        launch_error = str(exc)
    except Exception as exc:
        launch_error = f"{world_size} ranks could not start: {_failure(exc)}"
        traceback.print_exc()
    if launch_error is not None:
        if "SIGABRT" in launch_error and abort_hint:
            launch_error += f" [{abort_hint}]"
        for name in checks:
            errors.setdefault(name, f"not run: {launch_error}")
    return Outcome(world_size, launch_error, errors)


def _failure(exc: BaseException) -> str:
    """The exception in one line, with its rank and where in solution.py it came from."""
    if isinstance(exc, AssertionError):
        return str(exc)
    notes = " ".join(getattr(exc, "__notes__", []))
    return f"{one_line(exc)} ({notes})" if notes else one_line(exc)


def _broken(exc: BaseException) -> bool:
    """After gloo itself failed on a rank (a lost peer, a size mismatch) or a rank died,
    the group cannot run another collective: later checks would only wait for it."""
    # gloo's transport errors name its source files (".../gloo/transport/..."); an
    # argument it refuses before sending ("ProcessGroupGloo::allgather: invalid tensor
    # size") leaves the group usable.
    return isinstance(exc, WorkerDied) or "gloo" in str(exc)


__all__ = [
    "Check", "Deadlock", "Groups", "Outcome", "Ranks", "launch", "one_line", "run_checks",
]  # fmt: skip
