"""What the suite checks against: a slow, obvious model of the allocator, and a runner
that drives the candidate and the model through the same trace.

The model keeps every segment as a list of blocks in address order and recomputes
everything by scanning: the best fit is the minimum over all free blocks of the pool,
a free merges runs of free blocks inside the segment's list, stats are sums over the
lists. Nothing here is clever, so it is easy to check against the prompt line by line.

A trace is a list of steps:

    ("malloc", nbytes)     the i-th malloc of the trace is known as allocation i
    ("free", i)            frees allocation i (the runner maps it to an offset)
    ("empty_cache",)

After every step the runner compares what the call returned (an offset, the bytes
released, or OutOfMemory) and the whole `stats()` dict with the model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import solution as sol

MIB = 1 << 20
KIB = 1 << 10
STAT_KEYS = {
    "allocated_bytes",
    "requested_bytes",
    "reserved_bytes",
    "active_blocks",
    "segments",
    "largest_free_block",
    "fragmentation",
}

Step = tuple[Any, ...]


class ModelOutOfMemory(Exception):
    pass


@dataclass
class ModelBlock:
    offset: int
    size: int
    requested: int | None = None  # None while free


@dataclass
class ModelSegment:
    offset: int
    size: int
    small: bool
    blocks: list[ModelBlock] = field(default_factory=list)


class Model:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.segments: list[ModelSegment] = []

    def malloc(self, nbytes: int) -> int:
        size = max(512, -(-nbytes // 512) * 512)
        small = size <= MIB
        candidates = [
            (b.size, b.offset, seg, b)
            for seg in self.segments
            if seg.small == small
            for b in seg.blocks
            if b.requested is None and b.size >= size
        ]
        if candidates:
            _, _, seg, block = min(candidates, key=lambda c: (c[0], c[1]))
        else:
            seg = self._carve(size, small)
            block = seg.blocks[0]
        left = block.size - size
        if (small and left >= 512) or (not small and left > MIB):
            i = seg.blocks.index(block)
            seg.blocks.insert(i + 1, ModelBlock(block.offset + size, left))
            block.size = size
        block.requested = nbytes
        return block.offset

    def _carve(self, size: int, small: bool) -> ModelSegment:
        if small:
            length = 2 * MIB
        elif size < 10 * MIB:
            length = 20 * MIB
        else:
            length = math.ceil(size / (2 * MIB)) * 2 * MIB
        offset = self._gap(length)
        if offset is None:
            self.empty_cache()
            offset = self._gap(length)
        if offset is None:
            raise ModelOutOfMemory
        seg = ModelSegment(offset, length, small, [ModelBlock(offset, length)])
        self.segments.append(seg)
        self.segments.sort(key=lambda s: s.offset)
        return seg

    def _gap(self, length: int) -> int | None:
        bounds = [(s.offset, s.offset + s.size) for s in self.segments] + [
            (self.capacity, self.capacity)
        ]
        start = 0
        for lo, hi in bounds:
            if lo - start >= length:
                return start
            start = hi
        return None

    def free(self, offset: int) -> None:
        for seg in self.segments:
            for block in seg.blocks:
                if block.offset == offset and block.requested is not None:
                    block.requested = None
                    merged: list[ModelBlock] = []
                    for b in seg.blocks:
                        if merged and merged[-1].requested is None and b.requested is None:
                            merged[-1].size += b.size
                        else:
                            merged.append(b)
                    seg.blocks = merged
                    return
        raise ValueError(offset)

    def empty_cache(self) -> int:
        gone = [s for s in self.segments if all(b.requested is None for b in s.blocks)]
        self.segments = [s for s in self.segments if s not in gone]
        return sum(s.size for s in gone)

    def stats(self) -> dict[str, float]:
        blocks = [b for s in self.segments for b in s.blocks]
        live = [b for b in blocks if b.requested is not None]
        allocated = sum(b.size for b in live)
        reserved = sum(s.size for s in self.segments)
        largest = max((b.size for b in blocks if b.requested is None), default=0)
        free = reserved - allocated
        return {
            "allocated_bytes": allocated,
            "requested_bytes": sum(b.requested or 0 for b in live),
            "reserved_bytes": reserved,
            "active_blocks": len(live),
            "segments": len(self.segments),
            "largest_free_block": largest,
            "fragmentation": 1.0 - largest / free if free else 0.0,
        }


def mib(n: int) -> str:
    """A byte count as people read it: 3 MiB, 1 MiB + 512, 4096."""
    if n >= MIB:
        whole, rest = divmod(n, MIB)
        return f"{whole} MiB" + (f" + {rest}" if rest else "")
    return str(n)


def describe(step: Step) -> str:
    if step[0] == "malloc":
        return f"malloc({step[1]}) [{mib(step[1])}]"
    if step[0] == "free":
        return f"free(allocation {step[1]})"
    return "empty_cache()"


def check_stat_types(got: Any, where: str) -> None:
    """A dict with exactly the stats' keys: ints, and a float for fragmentation."""
    assert isinstance(got, dict) and set(got) == STAT_KEYS, (
        f"{where}: stats() must be a dict with exactly the keys {sorted(STAT_KEYS)}, "
        f"got {sorted(got) if isinstance(got, dict) else got!r}"
    )
    for key in sorted(STAT_KEYS):
        kind = float if key == "fragmentation" else int
        assert isinstance(got[key], kind) and not isinstance(got[key], bool), (
            f"{where}: stats()[{key!r}] must be {'a float' if kind is float else 'an int'}, "
            f"got {got[key]!r}"
        )


def check_stat(got: Any, key: str, want: float, where: str) -> None:
    if key == "fragmentation":
        ok, shown = math.isclose(got[key], want, rel_tol=1e-9, abs_tol=1e-12), f"{want}"
    else:
        ok, shown = got[key] == want, f"{want}" + (f" [{mib(int(want))}]" if want >= MIB else "")
    assert ok, f"{where}: stats()[{key!r}] should be {shown}, got {got[key]}"


def check_stats(got: Any, want: dict[str, float], where: str) -> None:
    check_stat_types(got, where)
    for key in sorted(STAT_KEYS):
        check_stat(got, key, want[key], where)


class Runner:
    """A fresh candidate and a fresh model driven through the same steps; each step's
    result and the stats after it are compared."""

    def __init__(self, capacity: int, name: str) -> None:
        self.capacity = capacity
        self.name = name
        self.alloc = sol.CachingAllocator(capacity)
        self.model = Model(capacity)
        self.offsets: dict[int, int] = {}  # live allocation index -> offset
        self.n_malloc = 0
        self.k = 0
        self.history: list[str] = []

    def step(self, step: Step) -> None:
        self.history = ([*self.history, describe(step)])[-4:]
        where = f"{self.name}, step {self.k} ({'; '.join(self.history)})"
        self.k += 1
        if step[0] == "malloc":
            self._malloc(step[1], where)
        elif step[0] == "free":
            offset = self.offsets.pop(step[1])
            self.model.free(offset)
            self.alloc.free(offset)
        else:
            want = self.model.empty_cache()
            got = self.alloc.empty_cache()
            assert got == want, (
                f"{where}: empty_cache() should release {want} bytes [{mib(want)}], returned {got}"
            )
        check_stats(self.alloc.stats(), self.model.stats(), where)

    def _malloc(self, nbytes: int, where: str) -> None:
        index = self.n_malloc
        self.n_malloc += 1
        try:
            want = self.model.malloc(nbytes)
        except ModelOutOfMemory:
            try:
                got = self.alloc.malloc(nbytes)
            except sol.OutOfMemory:
                return
            raise AssertionError(
                f"{where}: the buffer has no room even after empty_cache, so malloc must "
                f"raise OutOfMemory; it returned offset {got}"
            ) from None
        try:
            got = self.alloc.malloc(nbytes)
        except sol.OutOfMemory:
            raise AssertionError(
                f"{where}: raised OutOfMemory, but the rules give offset {want} [{mib(want)}] "
                f"({mib(int(self.model.stats()['reserved_bytes']))} reserved of "
                f"{mib(self.capacity)})"
            ) from None
        assert got == want, f"{where}: expected offset {want} [{mib(want)}], got {got!r}"
        self.offsets[index] = want


def run_trace(capacity: int, steps: list[Step], name: str) -> Model:
    """Run a whole trace, whose frees name allocations that succeeded; returns the
    model at the end."""
    runner = Runner(capacity, name)
    for step in steps:
        if step[0] == "free" and step[1] not in runner.offsets:
            raise ValueError(f"{name}: the trace frees allocation {step[1]}, which failed")
        runner.step(step)
    return runner.model
