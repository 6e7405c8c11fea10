"""Ranks of a process group, each a worker running the solution: for collectives katas.

    with launch(4) as ranks:
        outs = ranks.call("ring_all_reduce", [(x0,), (x1,), (x2,), (x3,)])
        group = ranks.new_group([1, 3])              # one handle per rank
        sent = ranks.bytes_sent()                    # per rank, from the kernel

Every rank is a sandboxed worker (loopback TCP allowed) that has joined a gloo group
of `world_size`; a call runs on every rank at once, one thread each here, and waits
for all of them. A rank that does not answer within the timeout (a deadlock) stops
every rank: the call raises `Deadlock` naming the ranks that had not returned.
How much each rank sent over TCP is read from the kernel (`grader.judge.traffic`).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from grader.judge import workers
from grader.judge.remote import RemoteObject
from grader.judge.traffic import tcp_bytes_sent

INIT_TIMEOUT_S = 30.0
# gloo's own timeout is longer than the judge's: a deadlock is always the judge's
# verdict ("did not finish within ..."), never a race with gloo's error message.
GLOO_GRACE_S = 30.0


class Deadlock(Exception):
    """Some ranks did not return from a collective call in time; every rank was stopped."""


class Ranks:
    def __init__(self, world_size: int, timeout_s: float) -> None:
        self.world_size = world_size
        self.timeout_s = timeout_s
        self.sessions = [workers.new_candidate(f"rank{r}") for r in range(world_size)]
        self.broken = ""
        port = _free_port()
        self._all(
            "joining the process group",
            [
                {"op": "dist_init", "rank": r, "world_size": world_size, "port": port,
                 "timeout_s": timeout_s + GLOO_GRACE_S, "point_to_point_only": True}
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
        if self.broken:
            raise Deadlock(f"not run: {self.broken}")
        results: list[Any] = [None] * self.world_size
        errors: list[BaseException | None] = [None] * self.world_size

        def run(r: int) -> None:
            message = messages[r]
            if message is None:
                return
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

        threads = [
            threading.Thread(target=run, args=(r,), daemon=True) for r in range(self.world_size)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout_s)
        stuck = [r for r, t in enumerate(threads) if t.is_alive()]
        if stuck:
            self.broken = (
                f"{self.world_size} ranks did not finish {what} within {timeout_s:g} s; "
                f"still inside it: rank{'s' if len(stuck) > 1 else ''} {', '.join(map(str, stuck))}"
            )
            self.close()
            raise Deadlock(self.broken)
        for r, error in enumerate(errors):
            if error is not None:
                error.add_note(f"on rank {r} of {self.world_size}")
                raise error
        return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def launch(world_size: int, timeout_s: float = 12.0) -> Iterator[Ranks]:
    ranks = Ranks(world_size, timeout_s)
    try:
        yield ranks
    finally:
        ranks.close()


__all__ = ["Deadlock", "Ranks", "launch"]
