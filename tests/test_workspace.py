"""Workspaces and sessions: created once, never overwritten, corrupt files named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.workspace import SESSION_FILE, Workspace, find_workspace, start
from grader.errors import BadInput
from grader.kata import Kata


def test_start_copies_the_starter_prompt_and_session(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    started = start(toy_kata, target, 600, force=False, resume=False)
    assert sorted(p.name for p in target.iterdir()) == [
        ".drill",
        "PROMPT.md",
        "solution.py",
        "test_visible.py",
    ]
    assert (target / "solution.py").read_text() == (
        toy_kata.starter_dir / "solution.py"
    ).read_text()
    session = json.loads((target / SESSION_FILE).read_text())
    assert session["kata"] == "top-k-indices"
    assert session["limit_s"] == 600
    assert started.session.left_s() == pytest.approx(600, abs=5)


def test_an_existing_folder_is_never_overwritten(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    target.mkdir()
    (target / "solution.py").write_text("my work")
    # Not a drill workspace: --resume would fail there, so it is not suggested.
    with pytest.raises(BadInput, match=r"not a drill workspace: choose another --dir.*--force"):
        start(toy_kata, target, 600, force=False, resume=False)
    assert (target / "solution.py").read_text() == "my work"


def test_force_moves_the_old_folder_to_a_backup_first(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    target.mkdir()
    (target / "solution.py").write_text("my work")
    started = start(toy_kata, target, 600, force=True, resume=False)
    assert started.backup is not None
    assert (started.backup / "solution.py").read_text() == "my work"
    assert "NotImplementedError" in (target / "solution.py").read_text()


def test_resume_keeps_the_clock_and_the_files(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    first = start(toy_kata, target, 600, force=False, resume=False)
    (target / "solution.py").write_text("my work")
    again = start(toy_kata, target, 600, force=False, resume=True)
    assert again.resumed
    assert again.session.started_at == first.session.started_at
    assert (target / "solution.py").read_text() == "my work"


def test_an_empty_existing_folder_is_used(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    target.mkdir()
    start(toy_kata, target, 600, force=False, resume=False)
    assert (target / "solution.py").exists()


def test_a_corrupt_session_is_named_with_the_way_out(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    start(toy_kata, target, 600, force=False, resume=False)
    (target / SESSION_FILE).write_text("{not json")
    with pytest.raises(BadInput, match=r"session\.json is corrupt.*--force"):
        Workspace(target).load()


def test_the_workspace_is_found_from_a_subfolder(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    start(toy_kata, target, 600, force=False, resume=False)
    (target / "notes").mkdir()
    assert find_workspace(target / "notes").root == target.resolve()


def test_outside_a_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not inside a drill workspace"):
        find_workspace(tmp_path)
