"""The grade's processes, seen from the parent: judges, mypy, and the zygote.

Three kinds of child, none of which shares a process with candidate code:
- judge processes (`grader.judge.run_tests`, `grader.judge.run_measure`): trusted;
  they report through a pipe whose read end only the parent holds, and the parent
  checks what they report against what it expected (`run_child`);
- mypy (`run_tracked`), which reads the solution and never runs it;
- the zygote (`start_zygote`), which forks the sandboxed workers that do run
  candidate code, for the judge processes only.

Judges and zygotes are forked by warm servers (`grader.forkserver`) that imported
torch once for this process. A child that stops answering or outlives its deadline is
killed with its process group; the zygote kills every process a worker left behind.
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

from grader.errors import InternalError
from grader.forkserver import Forked, ForkServer, ServerError
from grader.worker.signals import death

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
    processes: int = 16  # counted by the zygote; root ignores RLIMIT_NPROC
    network: bool = False  # loopback TCP, for katas that run torch.distributed

    def for_worker(self) -> dict[str, int]:
        return {
            "cpu_s": self.cpu_s,
            "memory_mb": self.memory_mb,
            "file_mb": self.file_mb,
            "open_files": self.open_files,
            "processes": self.processes,
        }


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
            return f"the process died from {death(-rc)}"
        return f"the process exited with status {rc} before finishing"


# What every judge process's environment holds besides PASS_ENV, HOME and TMPDIR.
JUDGE_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONUNBUFFERED": "1",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    # A fixed thread count: speed ratios are comparable, and RLIMIT_DATA is not
    # inflated by a pool sized to the machine.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
}


def _passed_env() -> dict[str, str]:
    return {k: os.environ[k] for k in PASS_ENV if k in os.environ}


def child_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    home = workdir / "home"
    tmp = workdir / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    return {**_passed_env(), "HOME": str(home), "TMPDIR": str(tmp), **JUDGE_ENV, **(extra or {})}


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


def stopping() -> bool:
    """Whether `stop_all` has run: what a child reported since may describe its killing."""
    return _stopping.is_set()


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


def run_child(
    module: str,
    config: dict[str, Any],
    workdir: Path,
    deadline_s: float,
    env: dict[str, str] | None = None,
    watchdog: Watchdog | None = None,
    cancel: threading.Event | None = None,
    zygote_fd: int | None = None,
) -> ChildResult:
    """Run the judge process `python -I -m module config.json` in `workdir`; return what
    it reported. With `zygote_fd`, the judge may ask the zygote for workers."""
    if _stopping.is_set():
        raise Stopped
    config_path = workdir / f"{module.rsplit('.', 1)[-1]}.json"
    config_path.write_text(json.dumps(config))
    out_path = workdir / f"{module.rsplit('.', 1)[-1]}.out"
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    fds = {"DRILL_RESULT_FD": write_fd}
    if zygote_fd is not None:
        fds["DRILL_ZYGOTE_FD"] = zygote_fd
    with open(out_path, "wb") as out:
        try:
            proc = _JUDGES.spawn(
                module,
                [str(config_path)],
                cwd=str(workdir),
                env=child_env(workdir, env),
                output=out.fileno(),
                fds=fds,
            )
        except ServerError as exc:
            os.close(read_fd)
            raise InternalError(f"the judge process could not start: {exc}") from None
        finally:
            # The judge holds them now: when it ends, its pipe closes and its workers go.
            for fd in fds.values():
                os.close(fd)
        _register(proc.pid)
        reader = _Reader(read_fd)
        reader.start()
        timed_out = lingered = False
        stop_reason = ""
        finished_at = 0.0
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now - start > deadline_s:
                    timed_out = True
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


# The zygote's environment is fixed before it imports torch, and every worker inherits
# it: one thread per pool (speed ratios comparable, no spinning pool threads behind a
# fork), a fixed hash seed (the same iteration order of sets in every grade), and
# glibc's mmap threshold pinned so that a freed large buffer goes back to the kernel
# at once: resident memory then tracks what a call holds (`grader.judge.measuring`).
ZYGOTE_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "MALLOC_MMAP_THRESHOLD_": "65536",
    "MALLOC_TRIM_THRESHOLD_": "131072",
    "TOKENIZERS_PARALLELISM": "false",
}


class ZygoteProcess:
    """The grade's zygote, kept alive by a socket of the parent's own, through which it
    also hands each judge process a socket of its own (`new_client`)."""

    def __init__(self, proc: Forked, control: int) -> None:
        import socket

        self.proc = proc
        self.control = socket.socket(fileno=control)

    def new_client(self) -> int:
        """A fresh socket to the zygote, for one judge process (see `run_child`)."""
        import socket

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(self.control, [b'{"op": "client"}'], [theirs.fileno()])
        finally:
            theirs.close()
        return ours.detach()

    def stop(self, wait_s: float = 5.0) -> None:
        """Let the zygote clean up after its clients; kill it if it does not."""
        with contextlib.suppress(OSError):
            self.control.close()
        try:
            self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc.pid)
            self.proc.wait()
        with _running_lock:
            _running.discard(self.proc.pid)


def start_zygote(workdir: Path, preload: list[str], forbidden: list[Path]) -> ZygoteProcess:
    """Start the zygote (see `grader.worker.zygote`)."""
    import socket

    from grader.worker.landlock import SYSTEM_ROOTS

    if _stopping.is_set():
        raise Stopped
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    config = {
        "preload": preload,
        "read_roots": [*SYSTEM_ROOTS, sys.prefix, sys.base_prefix],
        "forbidden": [str(p) for p in forbidden],
    }
    config_path = workdir / "zygote.json"
    config_path.write_text(json.dumps(config))
    try:
        with open(workdir / "zygote.out", "wb") as out:
            proc = _zygote_server(preload).spawn(
                "grader.worker.zygote",
                [str(config_path)],
                cwd=str(workdir),
                env=_zygote_env(),
                output=out.fileno(),
                fds={"DRILL_CLIENT_FD": theirs.fileno()},
            )
    except ServerError as exc:
        ours.close()
        raise InternalError(f"the zygote could not start: {exc}") from None
    finally:
        theirs.close()
    _register(proc.pid)
    return ZygoteProcess(proc, ours.detach())


def start_servers(preload: list[str] | None) -> None:
    """Start the servers a grade forks from (its judges', and the zygotes' for
    `preload` unless None: a grade given a zygote needs none) without waiting: each
    imports torch, and they do it side by side rather than one after the other as the
    grade first needs each."""
    _JUDGES.start()
    if preload is not None:
        _zygote_server(preload).start()


def _zygote_env() -> dict[str, str]:
    return {**_passed_env(), **ZYGOTE_ENV}


# Judges and zygotes fork from servers that have imported torch (and, for judges,
# pytest and hypothesis) once for this process. A zygotes' server holds nothing of ours
# but the zygote, and what its workers preload (a kata's `preload`), since every
# sandboxed worker descends from it: one server per preload.
_JUDGES = ForkServer(
    [
        "torch",
        "pytest",
        "hypothesis",
        "pytest_timeout",
        "grader.judge.run_tests",
        "grader.judge.run_measure",
        "grader.judge.run_bench",
    ],
    lambda: {**_passed_env(), **JUDGE_ENV},
)
_ZYGOTES: dict[tuple[str, ...], ForkServer] = {}
_ZYGOTES_LOCK = threading.Lock()


def _zygote_server(preload: list[str]) -> ForkServer:
    key = tuple(preload)
    with _ZYGOTES_LOCK:
        if key not in _ZYGOTES:
            _ZYGOTES[key] = ForkServer([*preload, "grader.worker.zygote"], _zygote_env)
        return _ZYGOTES[key]
