"""Fixtures for the mock-interview tests: a mock workspace on the torch-free toy kata."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.__main__ import run
from drills.mock.interview import Mock, open_mock


@pytest.fixture(autouse=True)
def no_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """No detached snapshot watcher unless a test starts one itself (and stops it)."""
    monkeypatch.setenv("DRILL_NO_WATCH", "1")


@pytest.fixture
def mock_ws(toy_katas_dir: Path, tmp_path: Path) -> Path:
    """A mock interview on the toy kata, started through the CLI as a candidate would."""
    ws = tmp_path / "ws"
    assert run(["mock", "start", "top-k-indices", "--dir", str(ws), "--timed", "20m"]) == 0
    return ws


@pytest.fixture
def mock(mock_ws: Path) -> Mock:
    return open_mock(mock_ws)
