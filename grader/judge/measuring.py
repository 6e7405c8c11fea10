"""Speed and memory of a worker, observed from outside it.

A kata's `hidden/cases.py` builds a `Case` for a side (the candidate's module or the
reference's, each served by its own worker through the same channel):

    def speed_case(impl, device, size) -> Case:
        def inputs(i):  return (logits(seed=i),)            # fresh for every call, not timed
        def call(x):    return impl.sample(x, top_p=0.9)     # timed: a call into the worker
        return Case(call, inputs)

Speed is the wall time this process observes around calls into the worker, in
interleaved ABBA rounds (`grader.judge.timing`), charged at least the CPU time the
worker used since its previous block (work done in background threads between calls
is counted). Memory is the kernel's peak resident size of the worker over a warm-up
call and a measured call, above its resident size just before them.

Every measured call returns a sample of its results (`grader.worker.serve`, select),
and the candidate's results are checked against the reference's on the same inputs:
a worker that skips the work to look fast or small is caught there, unless it reads
which elements are sampled and computes only those (docs/security.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.judge.remote import Session

Check = Callable[[Any, Any, tuple[Any, ...]], str | None]


@dataclass
class Case:
    """`call(*inputs(i))` is the i-th measured call; `check(candidate_out, reference_out,
    inputs)` says why two results disagree (None: they agree). `verify_calls`: how many
    timed calls are compared with the reference's (a statistical check wants many)."""

    call: Callable[..., object]
    inputs: Callable[[int], tuple[Any, ...]] = lambda i: ()
    check: Check | None = None
    verify_calls: int = 6


def close(a: Any, b: Any, rtol: float = 1e-3, atol: float = 1e-3) -> str | None:
    """Why two (sampled) results differ, or None: shapes, dtypes and values within tolerance."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"keys {sorted(a, key=str)} vs {sorted(b, key=str)}"
        for key in a:
            why = close(a[key], b[key], rtol, atol)
            if why:
                return f"{key}: {why}"
        return None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return f"{len(a)} values vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            why = close(x, y, rtol, atol)
            if why:
                return f"[{i}]: {why}"
        return None
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
        if a.dtype.is_floating_point or b.dtype.is_floating_point:
            ok = torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)
        else:
            ok = torch.equal(a, b)
        return None if ok else "values differ"
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    if numbers and (isinstance(a, float) or isinstance(b, float)):
        return None if math.isclose(a, b, rel_tol=rtol, abs_tol=atol) else f"{a} vs {b}"
    return None if a == b else f"{a!r:.60} vs {b!r:.60}"


@dataclass
class RemoteSide:
    """One side of a speed comparison: a case whose calls run in `session`'s worker."""

    session: Session
    case: Case
    sync: Callable[[], None]
    calls: int = 0
    outputs: dict[int, Any] = field(default_factory=dict)

    def block(self, n: int) -> float:
        worker = self.session.worker()
        inputs = [self.case.inputs(self.calls + j) for j in range(n)]  # not timed
        # The worker's CPU since its previous block ended, whichever side that was (two
        # sides of a growth comparison share one worker): work between blocks counts.
        mark = worker.cpu_mark if worker.cpu_mark is not None else worker.cpu_seconds()
        self.sync()
        start = time.perf_counter()
        for j, args in enumerate(inputs):
            with self.session.measuring(self.calls + j):
                self.outputs[self.calls + j] = self.case.call(*args)
        self.sync()
        wall = time.perf_counter() - start
        worker.require_alone()
        cpu = worker.cpu_seconds()
        spent, worker.cpu_mark = cpu - mark, cpu
        self.calls += n
        return max(wall, spent) / n


def verify(candidate: RemoteSide, reference: RemoteSide) -> tuple[str | None, int]:
    """Compare the candidate's results with the reference's on some of the calls both made
    (chosen at random after the timing, so a worker cannot know which count); returns
    (why they disagree, how many were compared)."""
    common = sorted(set(candidate.outputs) & set(reference.outputs))
    checks = candidate.case.verify_calls
    chosen = random.SystemRandom().sample(common, min(checks, len(common)))
    check = candidate.case.check or (lambda a, b, _inputs: close(a, b))
    for i in sorted(chosen):
        why = check(candidate.outputs[i], reference.outputs[i], candidate.case.inputs(i))
        if why:
            return f"call {i}: {why}", len(chosen)
    return None, len(chosen)


LOCK_NAME = "drill-measure.lock"


@contextlib.contextmanager
def one_measurement_at_a_time() -> Iterator[float]:
    """Hold the machine's measurement lock (every drill process on it takes the same
    one): two grades measuring at once would each time the other's load. Yields how long
    it waited. Other stages (tests, mypy) run beside it."""
    fd = _lock_file()
    start = time.monotonic()
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield time.monotonic() - start
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _lock_file() -> int:
    """The lock in the temp folder, shared by every user; ours if another user's is
    not open to us."""
    from grader.paths import cache_dir

    for folder in (Path(tempfile.gettempdir()), cache_dir()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666)  # the first user's umask must not lock others out
        return fd
    raise OSError("no folder for the measurement lock")


def channel_overhead(session: Session, calls: int = 100) -> float:
    """Median seconds of an empty round trip to the worker: what every call pays."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        session.request({"op": "ping"})
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


@dataclass(frozen=True)
class Footprint:
    peak_bytes: int  # the peak over the warm-up and the measured call, above `before`
    setup_bytes: int  # what importing the module and building the case's state left resident
    held_bytes: int  # the same peak above the resident size before the import: all of it
    output: Any  # the measured call's sampled result
    case: Case
    inputs: tuple[Any, ...]  # the measured call's


def peak_memory(
    session: Session, build: Callable[[], Case], sync: Callable[[], None], device: str = "cpu"
) -> Footprint:
    """The worker's peak resident memory over a warm-up call and a measured call.

    Both calls are inside the window: memory a first call allocates and keeps for the
    second (a cache, a pool of its own) counts. Their inputs differ, so nothing can be
    reused by content, and they are in the worker before the window opens, so what
    decoding them costs is not the call's.
    """
    worker = session.worker()
    if device == "cuda":
        return _peak_cuda_memory(session, build)
    # From before the import, not after it: memory an import holds and the first call
    # frees would otherwise raise `before` and hide the call's own peak under it.
    imported = worker.import_rss if worker.import_rss is not None else worker.resident_bytes()
    case = build()
    built = worker.resident_bytes()
    warm, measured = case.inputs(0), case.inputs(1)
    sent_warm = tuple(session.put(v) for v in warm)
    sent_measured = tuple(session.put(v) for v in measured)
    sync()
    before = worker.resident_bytes()
    worker.reset_peak()
    with session.measuring(0):
        case.call(*sent_warm)
    with session.measuring(1):
        output = case.call(*sent_measured)
    sync()
    peak = worker.peak_resident_bytes()
    worker.require_alone()
    # `held` is what a budget on the whole footprint reads: memory taken after `built`
    # (a thread of the solution's, while the inputs are sent) raises `before` and would
    # hide under it from `peak - before`, but not from this.
    return Footprint(
        peak_bytes=max(0, peak - before),
        setup_bytes=max(0, built - imported),
        held_bytes=max(0, peak - imported),
        output=output,
        case=case,
        inputs=measured,
    )


def _peak_cuda_memory(session: Session, build: Callable[[], Case]) -> Footprint:
    """On a GPU: torch's own count of device memory, which only the worker can read (the
    kernel does not see it): the same window, reported by the worker. A worker starts
    with no device memory (a forked process cannot inherit CUDA), so all it holds before
    the window, import included, is setup."""
    case = build()
    warm, measured = case.inputs(0), case.inputs(1)
    sent_warm = tuple(session.put(v) for v in warm)
    sent_measured = tuple(session.put(v) for v in measured)
    before, _ = session.request({"op": "cuda_memory", "reset": True})["ok"]
    with session.measuring(0):
        case.call(*sent_warm)
    with session.measuring(1):
        output = case.call(*sent_measured)
    _, peak = session.request({"op": "cuda_memory"})["ok"]
    session.worker().require_alone()
    return Footprint(
        peak_bytes=max(0, int(peak) - int(before)),
        setup_bytes=max(0, int(before)),
        held_bytes=max(0, int(peak)),
        output=output,
        case=case,
        inputs=measured,
    )


def same_result(candidate: Footprint, reference: Footprint) -> str | None:
    """Why the candidate's measured call computed something else than the reference's."""
    check = candidate.case.check or (lambda a, b, _inputs: close(a, b))
    return check(candidate.output, reference.output, candidate.inputs)
