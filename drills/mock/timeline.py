"""The timeline: an append-only file of events, one JSON object a line.

    {"v":1,"id":"9f1c…","kind":"test","by":"candidate","at":"2025-…+00:00","t":754.2,
     "passed":2,"failed":1,"ok":false,"snapshot":"3e0b…"}

`t` is seconds since the session started; `at` is the wall-clock time in UTC. Kinds:
start, resume, snapshot, test, grade, hint, phase, follow_up, score, note, review (the
candidate opened the model answer). A full grade records its `score`; a partial one
(`drill grade --only`) records `partial`, the checks that ran, and no score, since it
is not a grade of the kata.

Why no line is ever lost or torn when two processes write at once:
- each record is one `write` to a file opened with O_APPEND, so the kernel places it at
  the end whatever the other writer did meanwhile;
- an exclusive flock around that write covers file systems where O_APPEND is emulated
  (NFS and other network drives);
- fsync before returning: a record the caller was told about survives a crash;
- a process killed while writing can leave at most one partial line with no newline;
  the next writer starts a new line first, and readers skip what does not parse.
Readers drop duplicate ids, so a timeline merged by git (`merge=union`) reads cleanly.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.workspace import Session, now
from grader.wording import printable_value

SCHEMA = 1
_ENVELOPE = ("v", "id", "kind", "by", "at", "t")


@dataclass(frozen=True)
class Event:
    kind: str
    by: str  # "candidate", "interviewer" or "watcher"
    t: float  # seconds since the session started
    at: str  # ISO time in UTC
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def to_line(self) -> bytes:
        record = {"v": SCHEMA, "id": self.id, "kind": self.kind, "by": self.by, "at": self.at}
        record["t"] = self.t
        record.update(self.data)
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_json(cls, record: Any) -> Event | None:
        """The event in a parsed line, or None for anything that is not one."""
        if not isinstance(record, dict):
            return None
        # The candidate's side writes the file: its text is shown on the interviewer's.
        record = printable_value(record)
        try:
            kind, by, at, eid = (str(record[k]) for k in ("kind", "by", "at", "id"))
            t = float(record["t"])
        except (KeyError, TypeError, ValueError):
            return None
        data = {k: v for k, v in record.items() if k not in _ENVELOPE}
        return cls(kind=kind, by=by, t=t, at=at, data=data, id=eid)


def new_event(session: Session, kind: str, by: str, **data: Any) -> Event:
    """An event stamped now, with `t` measured from the session's start."""
    when = now()
    return Event(
        kind=kind,
        by=by,
        t=round(session.elapsed_s(when), 1),
        at=when.isoformat(timespec="microseconds"),
        data=data,
    )


def append(path: Path, event: Event) -> None:
    """Add `event` as one line at the end of `path`, durably (see the module docstring)."""
    line = event.to_line()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _lock(fd)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a writer died mid-line: do not glue onto its fragment
        view = memoryview(line)
        while view:  # one write in practice; loop in case the kernel takes less
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)  # also releases the lock


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # no flock: O_APPEND alone still keeps local appends whole
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def parse(raw: bytes) -> list[Event]:
    """Every whole, valid event in `raw`, in file order, each id once."""
    events: list[Event] = []
    seen: set[str] = set()
    for line in raw.split(b"\n")[:-1]:  # the piece after the last newline is unfinished
        try:
            event = Event.from_json(json.loads(line))
        except ValueError:  # torn or foreign line (UnicodeDecodeError is a ValueError)
            continue
        if event is not None and event.id not in seen:
            seen.add(event.id)
            events.append(event)
    return events


def read(path: Path) -> list[Event]:
    """The timeline in time order (file order among equal times; a git merge may interleave)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    return sorted(parse(raw), key=lambda e: e.at)


def stamp(path: Path) -> tuple[int, int, int] | None:
    """Changes whenever the file does: what a poller compares to know it must re-read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
