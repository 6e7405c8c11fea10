"""Where a mock interview keeps its state: files in the workspace, nothing else.

    .drill/
      session.json            the session (drills.workspace), as in practice mode
      session.lock            serialises read-modify-write of session.json
      mock/
        timeline.jsonl        append-only events, one JSON object a line (timeline.py)
        snapshots/<sha>.py    solution.py at moments of the timeline, content-addressed
        hints-seen            how many revealed hints the candidate has been shown
        watcher.lock          held by the snapshot watcher while it runs
        .gitattributes        `merge=union` for the timeline, for pairs who share by git

Two processes (candidate and interviewer) write these at the same time. The timeline
only ever grows; snapshots are named by their content, so two writers of one snapshot
write the same bytes; session.json is rewritten whole under an exclusive lock, after
re-reading it, so neither side undoes the other's change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from drills.workspace import Session, Workspace, write_atomic

MOCK_DIR = Path(".drill") / "mock"
SESSION_LOCK = Path(".drill") / "session.lock"
GITATTRIBUTES = "timeline.jsonl merge=union\n"


def mock_dir(root: Path) -> Path:
    return root / MOCK_DIR


def timeline_path(root: Path) -> Path:
    return mock_dir(root) / "timeline.jsonl"


def snapshots_dir(root: Path) -> Path:
    return mock_dir(root) / "snapshots"


def seen_path(root: Path) -> Path:
    return mock_dir(root) / "hints-seen"


def watcher_lock_path(root: Path) -> Path:
    return mock_dir(root) / "watcher.lock"


def write_file(path: Path, text: str) -> None:
    """Replace `path` atomically, readable as a plain new file would be (by the umask).

    The workspace may be a folder two people share; a private 0600 file would shut the
    other side out.
    """
    write_atomic(path, text)
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def init(root: Path) -> None:
    """Create the mock folder; idempotent, so a resumed session keeps what it has."""
    snapshots_dir(root).mkdir(parents=True, exist_ok=True)
    attributes = mock_dir(root) / ".gitattributes"
    if not attributes.exists():
        write_file(attributes, GITATTRIBUTES)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block.

    flock locks belong to the open file, so the lock is gone the moment the process
    dies, however it dies: a crashed side never leaves the other one waiting.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): atomic replaces still keep each file whole
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def session_lock(ws: Workspace) -> AbstractContextManager[None]:
    """The lock every writer of session.json takes around its read-modify-write."""
    return locked(ws.root / SESSION_LOCK)


def update_session(ws: Workspace, change: Callable[[Session], bool]) -> Session:
    """Re-read the session, apply `change`, and save it if `change` says it changed anything."""
    with session_lock(ws):
        session = ws.load()
        if change(session):
            ws.save(session)
    return session


def read_seen(root: Path) -> int:
    try:
        return int(seen_path(root).read_text(encoding="utf-8").strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_seen(root: Path, count: int) -> None:
    write_file(seen_path(root), f"{count}\n")
