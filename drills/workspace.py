"""Workspaces: the folder a candidate works in, and its session file.

A workspace is any folder holding `.drill/session.json`. The session records the
kata, its mode, when the clock started, the time limit, the hints taken, the last
grade, and for a bug hunt the planted bug it was given. Writes are atomic (write a temporary file, then rename), so a crash or Ctrl-C
never leaves half a session behind; a candidate's files are never overwritten. A change
made after the command's long part (a grade, a test run) re-reads the session under
`.drill/session.lock` first, so two processes never undo each other's change.

This module is the one place for those atomic writes and that lock: the mock
interview's files (drills/mock/store.py) use them too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from grader.errors import BadInput
from grader.kata import Kata
from grader.mutants import Mutant, planted_source
from grader.wording import printable_value

SESSION_FILE = Path(".drill") / "session.json"
SESSION_LOCK = Path(".drill") / "session.lock"
SESSION_SCHEMA = 1
ATTEMPTS = Path(".drill") / "attempts"  # earlier attempts, archived by `drill start --again`


class NewerSession(Exception):
    """A session.json from a later release: not corrupt, just not ours to read."""

    def __init__(self, schema: object) -> None:
        super().__init__(f"session schema {schema}")
        self.schema = schema


class Mode(StrEnum):
    """What a session is for. The value is what session.json stores."""

    PRACTICE = "practice"
    MOCK = "mock"  # hints come from the interviewer, who sees every test and grade


def _read_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; done once, at import,
    os.umask(mask)  # before any thread could create a file in between
    return mask


_UMASK = _read_umask()


def now() -> datetime:
    return datetime.now(UTC)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); a session shared by two people on a
        # shared drive needs the usual permissions.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


SOURCE_SUFFIXES = (".py", ".pyi", ".c", ".h")


def check_output(path: Path) -> None:
    """Where a file the user asked for (a report, an export, plots) may go: a file in a
    folder that exists and can be written, never over source code or a workspace's own
    files. Checked before any work: a grade found unwritable only at its end is lost."""
    target = path.resolve()
    if target.is_dir():
        raise BadInput(f"{path} is a folder: name a file to write")
    if not target.parent.is_dir():
        raise BadInput(f"cannot write {path}: there is no folder {path.parent} (create it first)")
    why = _candidates_file(target) if target.exists() else ""
    if why:
        raise BadInput(f"{path} is {why}: drill never writes over it; name another file")
    why = _unwritable(target)
    if why:
        raise BadInput(f"cannot write {path}: {why}; name another file")


def _unwritable(target: Path) -> str:
    """Why `target` (a resolved path in a folder that exists) cannot be written, or "".

    The file is written as a temporary file in its folder, then renamed over the old one
    (`write_atomic`): the folder must take new files; a file already there must be
    writable too (an immutable file cannot be replaced, a read-only one was made so on
    purpose)."""
    folder = target.parent
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): os.access still answers
        read_only = False
    if read_only:
        return f"{folder} is on a read-only file system"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    if target.exists() and not os.access(target, os.W_OK):
        return "the file is not writable"
    return ""


def _candidates_file(target: Path) -> str:
    """Why `target` (a resolved path) is the candidate's own work, or ""."""
    from drills.hunt import DIAGNOSIS

    if target.suffix in SOURCE_SUFFIXES:
        return "source code"
    for folder in target.parents:
        if (folder / SESSION_FILE).is_file():
            inside = target.relative_to(folder)
            own = inside.parts[0] in (".drill", "native") or inside.name in ("PROMPT.md", DIAGNOSIS)
            return "part of a drill workspace" if own else ""
    return ""


def write_output(path: Path, text: str) -> None:
    """Write a file the user asked for, whole or not at all; one clear line if it cannot be."""
    check_output(path)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None


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


@dataclass
class Hint:
    index: int
    at: str  # ISO time it was revealed
    elapsed_s: float


@dataclass
class Session:
    kata: str
    started_at: str
    limit_s: float
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    mode: Mode = Mode.PRACTICE
    hints: list[Hint] = field(default_factory=list)
    last_grade: dict[str, Any] | None = None
    last_test: dict[str, Any] | None = None
    gave_up_at: str | None = None  # when `drill review --give-up` showed the model answer
    variant: str | None = None  # a bug hunt's planted bug (its name in mutants.yaml)
    schema: int = SESSION_SCHEMA

    def elapsed_s(self, at: datetime | None = None) -> float:
        start = datetime.fromisoformat(self.started_at)
        return ((at or now()) - start).total_seconds()

    def left_s(self, at: datetime | None = None) -> float:
        return self.limit_s - self.elapsed_s(at)

    def deadline(self) -> datetime:
        from datetime import timedelta

        return datetime.fromisoformat(self.started_at) + timedelta(seconds=self.limit_s)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> Session:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        data = printable_value(data)  # a mock's other side may have written it
        schema = data.get("schema", SESSION_SCHEMA)
        if not isinstance(schema, int) or schema > SESSION_SCHEMA:
            raise NewerSession(schema)
        hints = [Hint(**h) for h in data.get("hints", [])]
        fields = {k: data[k] for k in ("kata", "started_at", "limit_s")}
        datetime.fromisoformat(fields["started_at"])  # validates the timestamp
        optional = {
            k: data[k]
            for k in ("attempt", "last_grade", "last_test", "gave_up_at", "variant")
            if k in data
        }
        mode = Mode(data.get("mode", Mode.PRACTICE))  # an unknown mode is a corrupt file
        return cls(**fields, **optional, mode=mode, hints=hints)


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def session_path(self) -> Path:
        return self.root / SESSION_FILE

    @property
    def solution(self) -> Path:
        return self.root / "solution.py"

    def load(self) -> Session:
        path = self.session_path
        try:
            return Session.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise BadInput(f"{self.root} is not a drill workspace (no {SESSION_FILE})") from None
        except NewerSession as exc:
            raise BadInput(
                f"{path} was written by a newer drill (session schema {exc.schema}; this one"
                f" reads {SESSION_SCHEMA}): upgrade drill to go on with it"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput(
                f"{path} is corrupt ({type(exc).__name__}: {exc}); fix it, or start afresh "
                f"with `drill start KATA --dir {self.root} --force` (your files are backed up first)"
            ) from None

    def save(self, session: Session) -> None:
        write_atomic(self.session_path, session.to_json())

    def lock(self) -> AbstractContextManager[None]:
        """The lock every writer of session.json holds around its read-modify-write."""
        return locked(self.root / SESSION_LOCK)

    def update(self, change: Callable[[Session], bool]) -> Session:
        """Re-read the session, apply `change`, and save it if `change` says it changed
        anything; the session as it now is."""
        with self.lock():
            session = self.load()
            if change(session):
                self.save(session)
        return session


def find_workspace(start: Path) -> Workspace:
    """The workspace at `start` or the nearest parent; a clear error when there is none."""
    given, start = start, start.resolve()
    if not start.exists():  # a mistyped --dir: not "outside a workspace"
        raise BadInput(f"{given} does not exist: pass --dir a workspace folder")
    for folder in (start, *start.parents):
        if (folder / SESSION_FILE).exists():
            return Workspace(folder)
    raise BadInput(
        f"{start} is not inside a drill workspace (no {SESSION_FILE}); "
        "start one with `drill start KATA` or pass --dir"
    )


def _backup(target: Path) -> Path:
    stamp = now().strftime("%Y%m%d-%H%M%S")
    backup = target.with_name(f"{target.name}.backup-{stamp}")
    n = 1
    while backup.exists():
        backup = target.with_name(f"{target.name}.backup-{stamp}-{n}")
        n += 1
    target.rename(backup)
    return backup


@dataclass
class Started:
    workspace: Workspace
    session: Session
    backup: Path | None = None
    resumed: bool = False
    archived: Path | None = None  # where `--again` put the previous attempt
    repeat: str = ""  # why a bug hunt hands out a bug this candidate was given before


def start(
    kata: Kata,
    target: Path,
    limit_s: float,
    *,
    force: bool,
    resume: bool,
    again: bool = False,
    mode: Mode = Mode.PRACTICE,
    bug: Mutant | None = None,
) -> Started:
    """Create (or resume, or restart) a workspace for `kata` in `target`; never overwrite
    a file that is not kept somewhere first. `bug`: the planted bug a bug hunt hands out."""
    if sum((force, resume, again)) > 1:
        raise BadInput("--force, --resume and --again contradict each other: choose one")
    if resume:
        ws = Workspace(target)
        session = ws.load()
        if session.kata != kata.id:
            raise BadInput(f"{target} holds a '{session.kata}' session, not '{kata.id}'")
        return Started(ws, session, resumed=True)
    if again:
        return _again(kata, Workspace(target), limit_s, mode, bug)
    backup = None
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        if not force:
            if (target / SESSION_FILE).is_file():
                raise BadInput(
                    f"{target} already holds a drill session: resume it with --resume, "
                    "or pass --force to move it aside to a timestamped backup first"
                )
            if not target.is_dir():
                raise BadInput(
                    f"{target} is a file, not a folder: choose another --dir, or pass --force "
                    "to move it aside to a timestamped backup first"
                )
            raise BadInput(
                f"{target} already exists, is not empty and is not a drill workspace: choose "
                "another --dir, or pass --force to move it aside to a timestamped backup first"
            )
        backup = _backup(target)
    target.mkdir(parents=True, exist_ok=True)
    _copy_starter(kata, target, bug)
    session = _new_session(kata, limit_s, mode, bug)
    ws = Workspace(target)
    ws.save(session)
    return Started(ws, session, backup=backup)


def _new_session(kata: Kata, limit_s: float, mode: Mode, bug: Mutant | None) -> Session:
    started_at = now().isoformat(timespec="seconds")
    variant = bug.name if bug is not None else None
    return Session(kata=kata.id, started_at=started_at, limit_s=limit_s, mode=mode, variant=variant)


def _copy_starter(kata: Kata, target: Path, bug: Mutant | None) -> None:
    """The starter files and PROMPT.md; for a bug hunt, the model answer with `bug`
    planted in it as solution.py, the bug's report in PROMPT.md, and diagnosis.txt."""
    from drills import hunt

    if kata.is_bug_hunt and bug is None:
        raise BadInput(f"{kata.id} is a bug hunt: a planted bug must be drawn for it")
    for item in sorted(kata.starter_dir.iterdir()):
        if item.is_file() and not item.name.startswith("."):
            shutil.copyfile(item, target / item.name)
    if bug is not None:
        (target / "solution.py").write_text(planted_source(kata, bug), encoding="utf-8")
        (target / hunt.DIAGNOSIS).write_text(hunt.DIAGNOSIS_TEMPLATE, encoding="utf-8")
    (target / "PROMPT.md").write_text(hunt.prompt_text(kata, bug), encoding="utf-8")


def _again(kata: Kata, ws: Workspace, limit_s: float, mode: Mode, bug: Mutant | None) -> Started:
    """Archive the attempt in `ws` (every file, and its session) under .drill/attempts/,
    then put the starter back and start a new attempt with a fresh clock."""
    with ws.lock():
        old = ws.load()
        if old.kata != kata.id:
            raise BadInput(f"{ws.root} holds a '{old.kata}' session, not '{kata.id}'")
        if old.mode is not mode:
            raise BadInput(f"{ws.root} holds a {old.mode} session: --again restarts practice only")
        archive = ws.root / ATTEMPTS / f"{len(attempts(ws)) + 1:02d}-{old.attempt}"
        shutil.copytree(ws.root, archive, ignore=shutil.ignore_patterns(".drill"))
        shutil.copyfile(ws.session_path, archive / "session.json")
        _copy_starter(kata, ws.root, bug)
        session = _new_session(kata, limit_s, mode, bug)
        ws.save(session)
    return Started(ws, session, archived=archive)


def attempts(ws: Workspace) -> list[Path]:
    """The archived attempts of `ws`, oldest first."""
    folder = ws.root / ATTEMPTS
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
