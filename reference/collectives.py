"""Ring collectives over torch.distributed point-to-point, and a local launcher.

A ring all-reduce is a reduce-scatter followed by an all-gather. The flat tensor is
cut into N chunks with `torch.tensor_split` (sizes differ by at most one element,
the larger ones first, and some are empty when the tensor has fewer than N
elements). Every rank talks only to its neighbours: it sends to `rank + 1` and
receives from `rank - 1`, one chunk each way per step, for N-1 steps per phase.

Reduce-scatter, step s: rank r sends chunk (r - s - 1) % N and receives chunk
(r - s - 2) % N, which it adds to its own copy. The chunk a rank receives at step s
is the one it forwards at step s + 1, so each chunk travels once around the ring
collecting one contribution per hop, and after N-1 steps rank r holds the full sum
of chunk r. All-gather, step s: rank r sends chunk (r - s) % N (its own chunk
first) and receives chunk (r - s - 1) % N, copying it in place.

Worked by hand for N=3, inputs x0, x1, x2, chunk c of rank r's data written xr[c]:

    reduce-scatter   rank 0                rank 1                rank 2
    step 0           send c2, recv c1      send c0, recv c2      send c1, recv c0
                     c1 = x2[1] + x0[1]    c2 = x0[2] + x1[2]    c0 = x1[0] + x2[0]
    step 1           send c1, recv c0      send c2, recv c1      send c0, recv c2
                     c0 = x1+x2+x0 [0]     c1 = x2+x0+x1 [1]     c2 = x0+x1+x2 [2]
    all-gather
    step 0           send c0, recv c2      send c1, recv c0      send c2, recv c1
    step 1           send c2, recv c1      send c0, recv c2      send c1, recv c0

Within a step a chunk moves in segments (about 1 MiB), so that the add of one
segment overlaps the transfer of the next; the schedule above is unchanged.

Every rank sends 2(N-1) chunks, 2(N-1)/N of the tensor, whatever N is: the
bandwidth term of the ring does not grow with the number of ranks. A step posts its
receive and its send together (irecv + isend, then wait on both). With a blocking
send first, every rank would sit in `send` waiting for a neighbour that is itself
sending: gloo's send waits for the matching receive, whatever the size.

Ranks are group ranks: with `group` from `dist.new_group([...])`, rank r of the
ring is the group's r-th member, and peers are translated to global ranks for the
point-to-point calls. A process outside `group` gets its tensor back unchanged.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, Literal, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
Group = dist.ProcessGroup | None


# A chunk travels in segments of about this size: a rank adds (or forwards) segment
# j while segment j + 1 is still arriving, instead of idling through each whole
# transfer. On an idle machine segments and whole chunks time the same; on busy cores
# segments hold up better, since a descheduled neighbour then stalls one segment
# rather than the whole step.
SEGMENT_BYTES = 1 << 20
MAX_SEGMENTS = 8

Segments = list[tuple[torch.Tensor, ...]]  # [chunk][segment], views into the tensor


class _Ring:
    """Where this process sits in the ring of `group`, and its two neighbours."""

    def __init__(self, group: Group) -> None:
        self.group = group
        self.size = dist.get_world_size(group)
        self.rank = dist.get_rank(group)  # -1 outside the group
        pg = group if group is not None else dist.group.WORLD
        assert pg is not None, "torch.distributed is not initialised"
        if self.rank >= 0:
            # send/recv take global ranks, whatever the group.
            self.right = dist.get_global_rank(pg, (self.rank + 1) % self.size)
            self.left = dist.get_global_rank(pg, (self.rank - 1) % self.size)

    # An empty segment is skipped at both ends: the receiver's segment has the
    # sender's (chunk, segment) index, hence its size.
    def send(self, t: torch.Tensor) -> dist.Work | None:
        return dist.isend(t, self.right, group=self.group) if t.numel() else None

    def recv(self, t: torch.Tensor) -> dist.Work | None:
        return dist.irecv(t, self.left, group=self.group) if t.numel() else None


def _wait(works: list[dist.Work | None]) -> None:
    for work in works:
        if work is not None:
            work.wait()


def _segments(flat: torch.Tensor, n: int) -> Segments:
    """`tensor_split` into n chunks, then each chunk into the same number of segments.

    Chunk 0 is the largest, so its segment j is at least as long as any other
    chunk's segment j: one scratch buffer per segment index serves every chunk.
    """
    chunks = torch.tensor_split(flat, n)
    k = chunks[0].numel() * flat.element_size() // SEGMENT_BYTES
    k = min(max(k, 1), MAX_SEGMENTS)
    return [torch.tensor_split(chunk, k) for chunk in chunks]


def _reduce_scatter(ring: _Ring, segs: Segments) -> None:
    """Step s: send chunk (r - s - 1), receive chunk (r - s - 2) and add it in."""
    n, r = ring.size, ring.rank
    scratch = [torch.empty_like(seg) for seg in segs[0]]
    sends = [ring.send(seg) for seg in segs[(r - 1) % n]]
    for s in range(n - 1):
        into = segs[(r - s - 2) % n]
        bufs = [buf[: seg.numel()] for buf, seg in zip(scratch, into, strict=True)]
        recvs = [ring.recv(buf) for buf in bufs]
        for j, seg in enumerate(into):
            _wait([recvs[j]])
            seg.add_(bufs[j])
            if s < n - 2:
                # Forward this segment's sum now: it is what the right neighbour
                # receives next. Both ends post in (step, segment) order, which is how
                # messages between a pair are matched.
                sends.append(ring.send(seg))
    _wait(sends)


def _all_gather(ring: _Ring, segs: Segments) -> None:
    """Step s: send chunk (r - s), receive chunk (r - s - 1) straight into place."""
    n, r = ring.size, ring.rank
    sends = [ring.send(seg) for seg in segs[r]]
    for s in range(n - 1):
        into = segs[(r - s - 1) % n]
        recvs = [ring.recv(seg) for seg in into]
        for j, seg in enumerate(into):
            _wait([recvs[j]])
            if s < n - 2:
                sends.append(ring.send(seg))
    _wait(sends)


Phase = Callable[[_Ring, Segments], None]


def _run(tensor: torch.Tensor, group: Group, phases: list[Phase]) -> torch.Tensor:
    """Run `phases` on the chunks of `tensor`, in place, and return `tensor`."""
    ring = _Ring(group)
    if ring.rank < 0 or ring.size == 1:
        return tensor
    work = tensor
    if tensor.is_cuda and dist.get_backend(group) == "gloo":
        # gloo moves host memory only; like torch's own gloo collectives, stage a
        # CUDA tensor through the host (NCCL sends it from the device).
        work = tensor.cpu()
    work = work.contiguous()  # a copy only when `tensor` is not contiguous
    segs = _segments(work.view(-1), ring.size)
    for phase in phases:
        phase(ring, segs)
    if work is not tensor:
        tensor.copy_(work)
    return tensor


def ring_reduce_scatter(tensor: torch.Tensor, group: Group = None) -> torch.Tensor:
    """Sum over the group, in place, only chunk `rank` of the flattened `tensor`.

    Chunks are `torch.tensor_split(tensor.flatten(), N)`; afterwards rank r's chunk r
    holds the sum over the group and its other chunks hold partial sums. Returns
    `tensor`.
    """
    return _run(tensor, group, [_reduce_scatter])


def ring_all_gather(tensor: torch.Tensor, group: Group = None) -> torch.Tensor:
    """Fill every chunk of the flattened `tensor` from the rank that owns it, in place.

    Rank r contributes chunk r of `torch.tensor_split(tensor.flatten(), N)`; what its
    other chunks hold on entry is overwritten. Returns `tensor`.
    """
    return _run(tensor, group, [_all_gather])


def ring_all_reduce(tensor: torch.Tensor, group: Group = None) -> torch.Tensor:
    """Sum `tensor` over the group, in place (same storage), and return it.

    Any shape, any number of elements (even fewer than ranks), any dtype the
    backend can send: a reduce-scatter, then an all-gather, N-1 steps each.
    """
    return _run(tensor, group, [_reduce_scatter, _all_gather])


# --------------------------------------------------------------------------- launch


class RankError(RuntimeError):
    """A rank raised; the message carries its traceback."""


def _loopback() -> str:
    return "lo0" if sys.platform == "darwin" else "lo"


StartMethod = Literal["fork", "forkserver", "spawn"]


def _context(start_method: StartMethod | None) -> ForkContext | ForkServerContext | SpawnContext:
    """By default a fork server that has imported torch once: each rank starts in well
    under a second instead of paying 2 to 3 s for `import torch` in a fresh interpreter."""
    if start_method == "fork":
        return mp.get_context("fork")
    if start_method == "spawn" or "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # Takes effect when this process first starts its fork server.
    ctx.set_forkserver_preload(["torch", "torch.distributed"])
    return ctx


def _die_with_parent() -> None:
    """Exit when the launching process goes away, rather than wait in a recv forever."""
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _rank_main(
    fn: Callable[..., object],
    rank: int,
    world_size: int,
    args: tuple[Any, ...],
    init_method: str,
    backend: str,
    timeout_s: float,
    out: Connection,
) -> None:
    _die_with_parent()
    if sys.platform != "win32":
        import resource

        # gloo aborts a process on some protocol errors: no core files in the caller's cwd.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ.setdefault("GLOO_SOCKET_IFNAME", _loopback())
    # Ranks share the machine's cores: more than one thread each oversubscribes it.
    torch.set_num_threads(1)
    ok = False
    try:
        dist.init_process_group(
            backend,
            init_method=init_method,
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout_s),
        )
        # Plain pickle copies tensors by value; torch's multiprocessing pickler would
        # hand over shared memory that dies with this process.
        payload = pickle.dumps(("ok", fn(rank, world_size, *args)))
        ok = True
    except BaseException:
        payload = pickle.dumps(("error", traceback.format_exc()))
    try:
        out.send_bytes(payload)
        out.close()
        if ok:
            # Nobody tears down its sockets while a neighbour may still be reading.
            dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _reap(procs: list[BaseProcess]) -> None:
    """Stop every child still running: terminate, then kill what ignores it."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(2.0)
        if p.is_alive():
            p.kill()
            p.join()


def launch(
    fn: Callable[..., T],
    world_size: int,
    *args: Any,
    timeout: float = 60.0,
    backend: str = "gloo",
    start_method: StartMethod | None = None,
) -> list[T]:
    """Run `fn(rank, world_size, *args)` on `world_size` local processes; results by rank.

    Each rank is its own process with torch.distributed initialised (gloo on loopback,
    rendezvous through a file in a private temporary directory, so no port can
    collide) and one torch thread. `fn` and its arguments must be picklable (a
    module-level function), and so must its result.

    A rank that raises makes `launch` raise `RankError` with that rank's traceback;
    ranks still running are stopped. If some rank has not returned after `timeout`
    seconds (a deadlock, typically), `launch` raises `TimeoutError`. Either way every
    child is gone when `launch` returns or raises.

    Ranks start from a fork server that has imported torch (spawn where there is
    none). `start_method="fork"` starts them as copies of this process instead: the
    fastest start, and they inherit its state (import hooks, audit hooks, modules
    already imported); safe only while this process runs no threads of its own and
    has not initialised CUDA.

    The same `fn` runs across machines under torchrun, which sets RANK, WORLD_SIZE,
    MASTER_ADDR and MASTER_PORT for each process; a script started with
    `torchrun --nnodes 2 --nproc-per-node 4 ... script.py` does::

        dist.init_process_group("gloo")  # or "nccl" for CUDA tensors
        result = fn(dist.get_rank(), dist.get_world_size(), *args)
        dist.destroy_process_group()
    """
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}")
    ctx = _context(start_method)
    with tempfile.TemporaryDirectory(prefix="launch-") as tmp:
        init_method = f"file://{os.path.join(tmp, 'store')}"
        procs: list[BaseProcess] = []
        readers: list[Connection] = []
        try:
            for rank in range(world_size):
                reader, writer = ctx.Pipe(duplex=False)
                # Ranks give up on their own a little after we do: the parent's
                # TimeoutError is the error the caller sees.
                child_args = (fn, rank, world_size, args, init_method, backend, timeout + 5, writer)
                proc = ctx.Process(target=_rank_main, args=child_args, daemon=True)
                proc.start()
                writer.close()
                procs.append(proc)
                readers.append(reader)
            results = _collect(procs, readers, time.monotonic() + timeout, timeout)
            grace = time.monotonic() + 5.0  # ranks finish their closing barrier
            for p in procs:
                p.join(max(0.0, grace - time.monotonic()))
            return results
        finally:
            _reap(procs)
            for reader in readers:
                reader.close()


def _died(rank: int, proc: BaseProcess) -> str:
    proc.join(1.0)  # the exit status can trail the closed pipe by a moment
    code = proc.exitcode
    how = f"was killed by {signal.Signals(-code).name}" if code and code < 0 else f"exited ({code})"
    return f"rank {rank} {how} before returning a result"


def _collect(
    procs: list[BaseProcess], readers: list[Connection], deadline: float, timeout: float
) -> list[Any]:
    """Each rank's result, in rank order; raise on the first failure or at the deadline."""
    results: dict[int, Any] = {}
    by_reader = {id(r): rank for rank, r in enumerate(readers)}
    by_sentinel = {p.sentinel: rank for rank, p in enumerate(procs)}
    while len(results) < len(procs):
        remaining = deadline - time.monotonic()
        pending = [rank for rank in range(len(procs)) if rank not in results]
        if remaining <= 0:
            raise TimeoutError(
                f"ranks {pending} of {len(procs)} did not finish within {timeout:g} s "
                "(deadlock: a send or recv with no matching peer?)"
            )
        ready = wait(
            [readers[r] for r in pending] + [procs[r].sentinel for r in pending], remaining
        )
        for obj in ready:
            rank = by_sentinel[obj] if isinstance(obj, int) else by_reader[id(obj)]
            if rank in results:
                continue
            reader = readers[rank]
            if isinstance(obj, int) and not reader.poll():
                raise RankError(_died(rank, procs[rank]))
            try:
                status, value = pickle.loads(reader.recv_bytes())
            except EOFError:
                raise RankError(_died(rank, procs[rank])) from None
            if status == "error":
                raise RankError(f"rank {rank} raised:\n{value}")
            results[rank] = value
    return [results[rank] for rank in range(len(procs))]
