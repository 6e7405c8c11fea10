"""The snapshot watcher: solution.py goes into the timeline whenever it changes.

`drill mock start`, and every `drill test`, `drill grade` and `drill status` of a mock
session, make sure one watcher runs for the workspace: `python -m drills.mock.watch ROOT`,
detached. It polls every `$DRILL_MOCK_SNAPSHOT_S` seconds (30 by default, so a changing
file is captured well inside two minutes), holds `watcher.lock` while it runs (a second
watcher exits at once), and stops by itself after `$DRILL_MOCK_IDLE_S` seconds (20
minutes) without a change, once the session's time is up (plus `OVERTIME_S`, for the
last edits of a candidate running over), or when the session is gone or replaced. The
next `drill` command of the candidate starts it again. `DRILL_NO_WATCH=1` turns it off.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from drills.mock import snapshots, store, timeline
from drills.mock.state import fold
from drills.workspace import Workspace
from grader.errors import BadInput

INTERVAL_S = 30.0
IDLE_S = 20 * 60.0
OVERTIME_S = 10 * 60.0


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def is_running(root: Path) -> bool:
    """Whether a watcher holds this workspace's lock (a dead one holds nothing)."""
    path = store.watcher_lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)


def ensure_running(root: Path) -> None:
    if os.environ.get("DRILL_NO_WATCH") or is_running(root):
        return
    subprocess.Popen(
        [sys.executable, "-m", "drills.mock.watch", str(root)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in the candidate's terminal does not reach it
    )


def last_snapshot(root: Path) -> str | None:
    moments = fold(timeline.read(store.timeline_path(root))).moments
    return moments[-1].sha if moments else None


def watch(
    root: Path,
    interval_s: float = INTERVAL_S,
    idle_s: float = IDLE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Snapshot solution.py each time it differs from the timeline's latest snapshot."""
    ws = Workspace(root)
    attempt = ws.load().attempt
    known = last_snapshot(root)
    quiet_since = time.monotonic()
    while True:
        sleep(interval_s)
        try:
            session = ws.load()
        except BadInput:
            return  # the workspace was removed or its session broken: nothing to watch
        if session.attempt != attempt:
            return  # `drill mock start --force` began a new attempt, with its own watcher
        if session.limit_s and session.elapsed_s() > session.limit_s + OVERTIME_S:
            return  # the interview is over: nothing of the session runs on after it
        sha = snapshots.take(root)
        if sha is not None and sha != known:
            known = last_snapshot(root)  # a test or grade may have recorded it already
            if sha != known:
                event = timeline.new_event(session, "snapshot", "watcher", snapshot=sha)
                timeline.append(store.timeline_path(root), event)
                known = sha
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > idle_s:
            return


def main(argv: list[str]) -> int:
    root = Path(argv[0]).resolve()
    path = store.watcher_lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if not _try_lock(fd):
        return 0  # another watcher has this workspace
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    interval = float(os.environ.get("DRILL_MOCK_SNAPSHOT_S", INTERVAL_S))
    idle = float(os.environ.get("DRILL_MOCK_IDLE_S", IDLE_S))
    try:
        watch(root, interval, idle)
    except BadInput:
        return 0
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
