"""The snapshot watcher: solution.py captured while it changes, then it stops by itself."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from drills import actions
from drills.__main__ import run
from drills.mock import snapshots, store, watch
from drills.mock.interview import Mock
from drills.visible import VisibleResult
from tests.mock.helpers import events


def scripted_sleep(steps: Sequence[Callable[[], object]]) -> Callable[[float], None]:
    """A `sleep` that performs the next step instead of waiting (the candidate typing)."""
    pending = iter(steps)

    def sleep(seconds: float) -> None:
        next(pending, lambda: None)()

    return sleep


def test_each_change_is_snapshotted_once_and_a_quiet_file_ends_the_watch(mock: Mock) -> None:
    solution = mock.root / "solution.py"
    versions = [
        "def top_k_indices(xs, k):\n    return []\n",
        "def top_k_indices(xs, k):\n    return [0]\n",
    ]
    steps = [
        lambda: solution.write_text(versions[0]),
        lambda: None,  # unchanged: no new snapshot; idle_s=0 ends the watch here
    ]
    watch.watch(mock.root, interval_s=0, idle_s=0, sleep=scripted_sleep(steps))
    steps = [lambda: solution.write_text(versions[1]), lambda: None]
    watch.watch(mock.root, interval_s=0, idle_s=0, sleep=scripted_sleep(steps))
    captured = events(mock.root, "snapshot")
    assert [e.by for e in captured] == ["watcher", "watcher"]
    assert [snapshots.load(mock.root, e.data["snapshot"]) for e in captured] == versions


def test_a_change_already_recorded_by_a_test_run_is_not_recorded_again(
    mock: Mock, monkeypatch: pytest.MonkeyPatch
) -> None:
    solution = mock.root / "solution.py"
    monkeypatch.setattr(actions, "run_visible", lambda root, profile=False: VisibleResult(1, 0, 1))

    def edit_and_test() -> None:
        solution.write_text("def top_k_indices(xs, k):\n    return []\n")
        assert run(["test", "--dir", str(mock.root)]) == 1

    watch.watch(mock.root, interval_s=0, idle_s=0, sleep=scripted_sleep([edit_and_test]))
    assert events(mock.root, "snapshot") == []
    assert len(events(mock.root, "test")) == 1


def test_the_watch_ends_when_the_session_is_replaced(mock: Mock) -> None:
    def restart() -> None:
        assert run(["mock", "start", "top-k-indices", "--force", "--dir", str(mock.root)]) == 0
        (mock.root / "solution.py").write_text("# new attempt\n")

    watch.watch(mock.root, interval_s=0, idle_s=3600, sleep=scripted_sleep([restart]))
    assert events(mock.root, "snapshot") == []  # it returned instead of recording


def test_the_watch_ends_with_the_sessions_time(mock: Mock) -> None:
    def run_out_of_time() -> None:
        path = mock.root / ".drill" / "session.json"
        session = json.loads(path.read_text())
        started = datetime.fromisoformat(session["started_at"]) - timedelta(hours=3)
        session["started_at"] = started.isoformat(timespec="seconds")
        path.write_text(json.dumps(session))
        (mock.root / "solution.py").write_text("# an edit after the interview\n")

    watch.watch(mock.root, interval_s=0, idle_s=3600, sleep=scripted_sleep([run_out_of_time]))
    assert events(mock.root, "snapshot") == []  # it returned instead of recording


@pytest.fixture
def live_watcher(mock: Mock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real detached watcher polling fast; stopped (by its own pid) whatever happens."""
    monkeypatch.delenv("DRILL_NO_WATCH")
    monkeypatch.setenv("DRILL_MOCK_SNAPSHOT_S", "0.2")
    monkeypatch.setenv("DRILL_MOCK_IDLE_S", "60")
    watch.ensure_running(mock.root)
    try:
        yield mock.root
    finally:
        pid = wait_for_pid(mock.root)
        if pid:
            os.kill(pid, signal.SIGTERM)
        until(lambda: not watch.is_running(mock.root), 20)


def wait_for_pid(root: Path) -> int:
    path = store.watcher_lock_path(root)
    until(lambda: path.read_text().strip().isdigit(), 20)
    return int(path.read_text())


def until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_detached_watcher_snapshots_edits_and_a_second_one_is_not_started(
    live_watcher: Path,
) -> None:
    pid = wait_for_pid(live_watcher)
    assert watch.is_running(live_watcher)
    watch.ensure_running(live_watcher)  # already running: no second watcher
    time.sleep(0.5)
    assert wait_for_pid(live_watcher) == pid
    (live_watcher / "solution.py").write_text("# typed by the candidate\n")
    until(lambda: len(events(live_watcher, "snapshot")) == 1, 30)
    (snap,) = events(live_watcher, "snapshot")
    assert snapshots.load(live_watcher, snap.data["snapshot"]) == "# typed by the candidate\n"
