"""Workspaces and sessions: created once, never overwritten, corrupt files named."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from drills.workspace import (
    SESSION_FILE,
    Hint,
    Mode,
    Session,
    Workspace,
    check_output,
    find_workspace,
    start,
    write_atomic,
)
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


def test_a_folder_that_does_not_exist_is_said_not_to_exist(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as raised:
        find_workspace(tmp_path / "nonexistent")
    assert (
        str(raised.value)
        == f"{tmp_path / 'nonexistent'} does not exist: pass --dir a workspace folder"
    )


def test_start_on_a_file_says_it_is_a_file_and_keeps_it(toy_kata: Kata, tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("my notes")
    with pytest.raises(
        BadInput, match=r"afile is a file, not a folder: choose another --dir.*--force"
    ):
        start(toy_kata, target, 600, force=False, resume=False)
    assert target.read_text() == "my notes"


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """`path` made unwritable for this process: read-only modes, or for root (whom modes do
    not stop) the immutable attribute; the test is skipped where neither holds."""
    import subprocess

    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode:
        pytest.skip("root, and chattr +i does not work here")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_an_unwritable_folder_or_file_is_refused_before_any_work(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "old.json").write_text("{}")
    with unwritable(folder), pytest.raises(BadInput) as raised:
        check_output(folder / "r.json")
    assert str(raised.value) == (
        f"cannot write {folder / 'r.json'}: the folder {folder} is not writable; name another file"
    )
    why = r"old\.json: the file is not writable; name another file"
    with unwritable(folder / "old.json"), pytest.raises(BadInput, match=why):
        check_output(folder / "old.json")
    check_output(folder / "old.json")  # writable again: accepted
    check_output(folder / "new.json")


def test_a_read_only_file_system_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.statvfs

    def read_only(path: Any) -> Any:
        got = real(path)
        return os.statvfs_result((*got[:8], got.f_flag | os.ST_RDONLY, *got[9:]))

    monkeypatch.setattr(os, "statvfs", read_only)
    with pytest.raises(BadInput, match=re.escape(f"{tmp_path} is on a read-only file system")):
        check_output(tmp_path / "r.json")


def test_grade_to_an_unwritable_folder_grades_nothing_and_says_so(
    toy_kata: Kata, toy_katas_dir: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    ws = start(toy_kata, tmp_path / "ws", 600, force=False, resume=False).workspace
    folder = tmp_path / "reports"
    folder.mkdir()
    for args in (
        ["grade", "--format", "json", "--output"],
        ["export", "--output"],
        ["stats", "--html"],
    ):
        with unwritable(folder):
            result = subprocess.run(
                [sys.executable, "-m", "drills", *args, str(folder / "r.json")],
                cwd=ws.root,
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""  # refused before any work: no grade, no table
        (line,) = result.stderr.strip().splitlines()
        assert line.endswith(f"the folder {folder} is not writable; name another file"), line
    assert ws.load().last_grade is None
    assert list(folder.iterdir()) == []


A_SESSION: dict[str, Any] = {
    "kata": "top-k-indices",
    "started_at": "2030-01-01T00:00:00+00:00",
    "limit_s": 600,
}


@pytest.mark.parametrize("stored", [{}, {"mode": "practice"}, {"mode": "mock"}])
def test_the_mode_is_read_and_written_as_the_same_string(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    ws = Workspace(tmp_path)
    (tmp_path / SESSION_FILE).parent.mkdir()
    (tmp_path / SESSION_FILE).write_text(json.dumps(A_SESSION | stored))
    session = ws.load()
    assert session.mode is Mode(stored.get("mode", "practice"))
    ws.save(session)
    written = json.loads((tmp_path / SESSION_FILE).read_text())
    assert written["mode"] == stored.get("mode", "practice")


def test_an_unknown_mode_is_a_corrupt_session(tmp_path: Path) -> None:
    (tmp_path / SESSION_FILE).parent.mkdir()
    (tmp_path / SESSION_FILE).write_text(json.dumps(A_SESSION | {"mode": "exam"}))
    with pytest.raises(BadInput, match=r"session\.json is corrupt"):
        Workspace(tmp_path).load()


def test_a_session_from_a_newer_drill_asks_for_an_upgrade_not_a_restart(tmp_path: Path) -> None:
    (tmp_path / SESSION_FILE).parent.mkdir()
    (tmp_path / SESSION_FILE).write_text(json.dumps(A_SESSION | {"schema": 99}))
    with pytest.raises(BadInput, match=r"written by a newer drill \(session schema 99.*upgrade"):
        Workspace(tmp_path).load()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "notes.txt").write_text("old")

    def disk_full(src: str, dst: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(folder / "notes.txt", "new")
    monkeypatch.undo()
    assert (folder / "notes.txt").read_text() == "old"
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_an_atomic_write_is_readable_as_the_umask_allows(tmp_path: Path) -> None:
    """Not the private 0600 of a temporary file: a shared workspace has two readers."""
    mask = os.umask(0)
    os.umask(mask)
    path = tmp_path / "shared" / "notes.txt"
    write_atomic(path, "text")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_an_update_waits_for_the_session_lock(toy_kata: Kata, tmp_path: Path) -> None:
    ws = start(toy_kata, tmp_path / "ws", 600, force=False, resume=False).workspace
    done = threading.Event()

    def add_hint(session: Session) -> bool:
        session.hints.append(Hint(index=0, at=session.started_at, elapsed_s=1.0))
        return True

    def update() -> None:
        ws.update(add_hint)
        done.set()

    with ws.lock():  # another process, in the middle of its own read-modify-write
        other = threading.Thread(target=update)
        other.start()
        assert not done.wait(0.3)
    other.join(timeout=10)
    assert done.is_set() and [h.index for h in ws.load().hints] == [0]


def test_a_hint_taken_during_a_grade_keeps_the_grade(
    toy_kata: Kata, toy_katas_dir: Path, tmp_path: Path
) -> None:
    from drills import actions

    ws = start(toy_kata, tmp_path / "ws", 600, force=False, resume=False).workspace
    taken = threading.Event()

    def take() -> None:
        actions.take_hint(ws.root)
        taken.set()

    with ws.lock():  # a grade, between reading the session and saving its result
        session = ws.load()
        hint = threading.Thread(target=take)
        hint.start()
        assert not taken.wait(0.3)  # the hint waits for the grade
        session.last_grade = {"score": 42.0}
        ws.save(session)
    hint.join(timeout=10)
    after = ws.load()
    assert taken.is_set() and len(after.hints) == 1
    assert after.last_grade == {"score": 42.0}


def test_again_archives_the_attempt_and_puts_the_starter_back(
    toy_kata: Kata, tmp_path: Path
) -> None:
    first = start(toy_kata, tmp_path / "ws", 600, force=False, resume=False)
    ws = first.workspace
    ws.solution.write_text("# my first attempt\n")
    (ws.root / "notes.md").write_text("what I tried\n")
    again = start(toy_kata, ws.root, 900, force=False, resume=False, again=True)
    assert again.archived == ws.root / ".drill" / "attempts" / f"01-{first.session.attempt}"
    assert (again.archived / "solution.py").read_text() == "# my first attempt\n"
    assert (again.archived / "notes.md").read_text() == "what I tried\n"
    assert json.loads((again.archived / "session.json").read_text())["attempt"] == (
        first.session.attempt
    )
    starter = (toy_kata.starter_dir / "solution.py").read_text()
    assert ws.solution.read_text() == starter
    session = ws.load()
    assert session.attempt != first.session.attempt and session.limit_s == 900
    third = start(toy_kata, ws.root, 900, force=False, resume=False, again=True)
    assert third.archived is not None and third.archived.name.startswith("02-")


def test_again_needs_a_practice_workspace_of_the_same_kata(toy_kata: Kata, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="is not a drill workspace"):
        start(toy_kata, tmp_path / "none", 600, force=False, resume=False, again=True)
    mock = start(toy_kata, tmp_path / "mock", 600, force=False, resume=False, mode=Mode.MOCK)
    with pytest.raises(BadInput, match="holds a mock session"):
        start(toy_kata, mock.workspace.root, 600, force=False, resume=False, again=True)
    with pytest.raises(BadInput, match="contradict"):
        start(toy_kata, mock.workspace.root, 600, force=True, resume=False, again=True)
