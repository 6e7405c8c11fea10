"""Run untrusted code in a child process: limits, a watchdog, and a result channel we own.

The parent never trusts a child's exit status alone (`os._exit(0)` gives 0 and no
output). A child reports through a pipe whose read end only the parent holds; the
parent decides from the records it got, the ones it expected, and whether the child
said "finish". Resource limits are applied by the child itself before any candidate
code runs (see `grader.child`), because `preexec_fn` is unsafe in a threaded parent
and the grader runs several children at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Environment a child inherits from ours; everything else is dropped (no PYTHONPATH,
# no PYTHONSTARTUP, no tokens). HOME and TMPDIR point into the private directory.
PASS_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "TERM",
)
MAX_RECORD_BYTES = 32 << 20
OUTPUT_TAIL_BYTES = 8192


@dataclass(frozen=True)
class Limits:
    cpu_s: int
    memory_mb: int
    file_mb: int = 64
    open_files: int = 512
    processes: int = 16  # counted by the parent; root ignores RLIMIT_NPROC
    network: bool = False  # loopback TCP, for katas that run torch.distributed
    gpu: bool = False  # the child may use CUDA (no Landlock: the driver breaks under it)


@dataclass
class ChildResult:
    records: list[dict[str, Any]]
    returncode: int | None
    timed_out: bool
    wall_s: float
    output_tail: str = ""
    overflow: bool = False
    stop_reason: str = ""  # why the parent stopped it early, if it did
    lingered: bool = False  # it finished, then did not exit by itself

    @property
    def stopped_by_watchdog(self) -> bool:
        return bool(self.stop_reason)

    def finished(self) -> bool:
        return any(r.get("kind") == "finish" for r in self.records)

    def exit_description(self) -> str:
        """How the child ended, in words a candidate can act on."""
        if self.timed_out:
            return f"it did not finish within {self.wall_s:.0f} s and was stopped"
        if self.stop_reason:
            return self.stop_reason
        rc = self.returncode
        if rc is None:
            return "it was stopped"
        if rc < 0:
            name = (
                signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
            )
            why = {
                "SIGSEGV": " (a segmentation fault)",
                "SIGXCPU": " (CPU time limit reached)",
                "SIGXFSZ": " (file size limit reached: too much output?)",
                "SIGKILL": " (killed, often for memory)",
            }.get(name, "")
            return f"the process died from {name}{why}"
        return f"the process exited with status {rc} before finishing"


def unreadable_paths() -> list[str]:
    """What a solution may not open: every kata folder and the history store."""
    from grader.paths import BUILTIN_KATAS, data_dir, katas_dir

    return sorted({str(BUILTIN_KATAS), str(katas_dir()), str(data_dir())})


def child_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    home = workdir / "home"
    tmp = workdir / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        PYTHONUNBUFFERED="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        # A fixed thread count: speed ratios are comparable, and RLIMIT_DATA is not
        # inflated by a pool sized to the machine.
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
    )
    env.update(extra or {})
    return env


_running: set[int] = set()
_running_lock = threading.Lock()
# Set by `stop_all`: no new child may start. Without it, a stage thread that sees its
# child killed takes it for a crash and starts the next one (the tests stage runs the
# rest of the suite again), and Ctrl-C would wait for all of that.
_stopping = threading.Event()


class Stopped(Exception):
    """The grade is being stopped (Ctrl-C, SIGTERM): no child was started."""


def stop_all() -> None:
    """Kill every child this process started and start no more (on Ctrl-C, before
    threads are joined). For the rest of the process's life: it is about to exit."""
    _stopping.set()
    with _running_lock:
        pids = list(_running)
    for pid in pids:
        _kill_group(pid)


def _register(pid: int) -> None:
    """Track a started child; if a stop began meanwhile, kill it at once."""
    with _running_lock:
        _running.add(pid)
    if _stopping.is_set():
        _kill_group(pid)


def run_tracked(cmd: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> int:
    """A trusted helper process (mypy): its own session, stopped on Ctrl-C like the rest."""
    if _stopping.is_set():
        raise Stopped
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _register(proc.pid)
    try:
        return proc.wait(timeout=timeout_s)
    finally:
        _kill_group(proc.pid)
        proc.wait()
        with _running_lock:
            _running.discard(proc.pid)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _Reader(threading.Thread):
    """Drains the pipe into parsed records as they arrive (the watchdog reads them live)."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.records: list[dict[str, Any]] = []
        self.overflow = False

    def run(self) -> None:
        total = 0
        pending = b""
        with os.fdopen(self.fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                total += len(chunk)
                if total > MAX_RECORD_BYTES:
                    self.overflow = True
                    continue  # keep draining so the child never blocks on a full pipe
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self.records.extend(r for r in map(_parse_line, lines) if r is not None)


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


# Called about five times a second with the records so far; a non-empty reason stops the child.
Watchdog = Callable[[list[dict[str, Any]]], str]
# After the child says "finish", it has this long to exit (torch alone can take 3 s on a
# loaded machine; threads left running keep a
# Python process alive); then it is stopped and its results stand.
FINISH_GRACE_S = 10.0
NOT_NEEDED = "stopped: its result was no longer needed"


def session_processes(sid: int) -> int:
    """How many processes are in session `sid` (the child and all it started)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # state, ppid, pgrp, session
            count += 1
    return count


def run_child(
    module: str,
    config: dict[str, Any],
    workdir: Path,
    limits: Limits,
    deadline_s: float,
    env: dict[str, str] | None = None,
    watchdog: Watchdog | None = None,
    cancel: threading.Event | None = None,
) -> ChildResult:
    """Run `python -I -m module config.json` in `workdir`; return what it reported."""
    if _stopping.is_set():
        raise Stopped
    config = {**config, "limits": limits.__dict__, "unreadable": unreadable_paths()}
    config_path = workdir / f"{module.rsplit('.', 1)[-1]}.json"
    config_path.write_text(json.dumps(config))
    out_path = workdir / f"{module.rsplit('.', 1)[-1]}.out"
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    with open(out_path, "wb") as out:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-m", module, str(config_path)],
                cwd=workdir,
                env=child_env(workdir, {"DRILL_RESULT_FD": str(write_fd), **(env or {})}),
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        _register(proc.pid)
        reader = _Reader(read_fd)
        reader.start()
        timed_out = lingered = False
        stop_reason = ""
        finished_at = 0.0
        counting = sys.platform.startswith("linux")
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now - start > deadline_s:
                    timed_out = True
                    break
                if counting and session_processes(proc.pid) > limits.processes:
                    stop_reason = (
                        f"it started more than {limits.processes - 1} processes and was stopped"
                    )
                    break
                if watchdog is not None and (stop_reason := watchdog(reader.records)):
                    break
                if cancel is not None and cancel.is_set():
                    stop_reason = NOT_NEEDED
                    break
                if not finished_at and any(r.get("kind") == "finish" for r in reader.records[-3:]):
                    finished_at = now
                if finished_at and now - finished_at > FINISH_GRACE_S:
                    lingered = True
                    break
                time.sleep(0.1)
        finally:
            # Whatever happened, nothing the child started outlives the grade.
            _kill_group(proc.pid)
            proc.wait()
            with _running_lock:
                _running.discard(proc.pid)
        reader.join(timeout=2.0)
    wall = time.monotonic() - start
    with open(out_path, "rb") as f:
        f.seek(max(0, out_path.stat().st_size - OUTPUT_TAIL_BYTES))
        tail = f.read().decode("utf-8", "replace")
    return ChildResult(
        records=list(reader.records),
        returncode=None if timed_out or stop_reason or lingered else proc.returncode,
        timed_out=timed_out,
        wall_s=wall,
        output_tail=tail,
        overflow=reader.overflow,
        stop_reason=stop_reason,
        lingered=lingered,
    )
