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


@dataclass
class ChildResult:
    records: list[dict[str, Any]]
    returncode: int | None
    timed_out: bool
    wall_s: float
    output_tail: str = ""
    overflow: bool = False
    stopped_by_watchdog: bool = False

    def finished(self) -> bool:
        return any(r.get("kind") == "finish" for r in self.records)

    def exit_description(self) -> str:
        """How the child ended, in words a candidate can act on."""
        if self.timed_out:
            return f"it did not finish within {self.wall_s:.0f} s and was stopped"
        if self.stopped_by_watchdog:
            return "it was stopped by the grader's watchdog"
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


# Called about five times a second with the records so far; True stops the child.
Watchdog = Callable[[list[dict[str, Any]]], bool]


def run_child(
    module: str,
    config: dict[str, Any],
    workdir: Path,
    limits: Limits,
    deadline_s: float,
    env: dict[str, str] | None = None,
    watchdog: Watchdog | None = None,
) -> ChildResult:
    """Run `python -I -m module config.json` in `workdir`; return what it reported."""
    config = {**config, "limits": limits.__dict__}
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
        reader = _Reader(read_fd)
        reader.start()
        timed_out = stopped = False
        try:
            while proc.poll() is None:
                if time.monotonic() - start > deadline_s:
                    timed_out = True
                    break
                if watchdog is not None and watchdog(reader.records):
                    stopped = True
                    break
                time.sleep(0.2)
        finally:
            # Whatever happened, nothing the child started outlives the grade.
            _kill_group(proc.pid)
            proc.wait()
        reader.join(timeout=2.0)
    wall = time.monotonic() - start
    with open(out_path, "rb") as f:
        f.seek(max(0, out_path.stat().st_size - OUTPUT_TAIL_BYTES))
        tail = f.read().decode("utf-8", "replace")
    return ChildResult(
        records=list(reader.records),
        returncode=None if timed_out or stopped else proc.returncode,
        timed_out=timed_out,
        wall_s=wall,
        output_tail=tail,
        overflow=reader.overflow,
        stopped_by_watchdog=stopped,
    )
