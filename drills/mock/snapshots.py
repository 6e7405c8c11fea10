"""Snapshots of solution.py, named by their content: `.drill/mock/snapshots/<sha>.py`.

A name that is a hash of the bytes makes a snapshot write idempotent: two processes
that snapshot the same file write the same name with the same bytes, and an unchanged
file costs nothing however often it is snapshotted (at every test, grade and hint).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from drills.mock.store import snapshots_dir
from drills.workspace import write_atomic
from grader.paths import read_own_file
from grader.wording import printable

SHA_CHARS = 16


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:SHA_CHARS]


def take(root: Path) -> str | None:
    """Store the workspace's solution.py; its sha, or None when there is no solution.py."""
    try:
        content = read_own_file(root / "solution.py")
    except OSError:  # missing, or a link or a device: nothing the candidate wrote
        return None
    sha = digest(content)
    path = snapshots_dir(root) / f"{sha}.py"
    if not path.exists():
        write_atomic(path, content.decode("utf-8", errors="replace"))
    return sha


def load(root: Path, sha: str) -> str | None:
    """A snapshot's text, to show (its control characters written out); None if it is
    missing (a partial copy of the workspace)."""
    try:
        return printable((snapshots_dir(root) / f"{sha}.py").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
