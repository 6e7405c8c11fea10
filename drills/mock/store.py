"""Where a mock interview keeps its state: files in the workspace, nothing else.

    .drill/
      session.json            the session (drills.workspace), as in practice mode
      session.lock            serialises read-modify-write of session.json (drills.workspace)
      mock/
        timeline.jsonl        append-only events, one JSON object a line (timeline.py)
        snapshots/<sha>.py    solution.py at moments of the timeline, content-addressed
        hints-seen            how many revealed hints the candidate has been shown
        watcher.lock          held by the snapshot watcher while it runs
        .gitattributes        `merge=union` for the timeline, for pairs who share by git

Two processes (candidate and interviewer) write these at the same time. The timeline
only ever grows; snapshots are named by their content, so two writers of one snapshot
write the same bytes; session.json is rewritten whole under the workspace's lock, after
re-reading it (`Workspace.update`), so neither side undoes the other's change. Every
file here is replaced atomically by `drills.workspace.write_atomic`, readable as the
umask allows: the workspace may be a folder two people share.
"""

from __future__ import annotations

from pathlib import Path

from drills.workspace import write_atomic

MOCK_DIR = Path(".drill") / "mock"
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


def init(root: Path) -> None:
    """Create the mock folder; idempotent, so a resumed session keeps what it has."""
    snapshots_dir(root).mkdir(parents=True, exist_ok=True)
    attributes = mock_dir(root) / ".gitattributes"
    if not attributes.exists():
        write_atomic(attributes, GITATTRIBUTES)


def read_seen(root: Path) -> int:
    try:
        return int(seen_path(root).read_text(encoding="utf-8").strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_seen(root: Path, count: int) -> None:
    write_atomic(seen_path(root), f"{count}\n")
