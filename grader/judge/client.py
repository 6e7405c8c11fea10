"""The judge's end of a worker: ask the zygote for one, talk to it, watch it from outside.

Everything here runs in a trusted process. A `WorkerProcess` sends requests and
decodes replies with `grader.worker.wire` (nothing the worker sends is executed), and
reads what the kernel knows about the worker, which the worker cannot write: its CPU
time (a per-process CPU clock), its resident memory and the peak of it (/proc).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.worker.signals import NOT_ALONE, children, death, kill_tree
from grader.worker.wire import (
    Decoded,
    Decoder,
    Encoder,
    ExceptionClass,
    Handle,
    WireError,
    encode,
    recv_frame,
    send_frame,
)

EXIT_WAIT_S = 2.0
CHANNEL_BUFFER_BYTES = 4 << 20  # after the channel closes, how long to wait for the exit status


class WorkerDied(Exception):
    """The worker's process ended (or was stopped) while the judge needed it."""


@dataclass
class WorkerSpec:
    """What a worker imports and the sandbox it runs in."""

    module: str  # "solution", or the reference module of a reference worker
    path: list[str]  # prepended to sys.path (the solution's folder)
    folder: Path  # the worker's own folder: its cwd, HOME and TMPDIR, the only place it may write
    limits: dict[str, int]
    read: list[str] = field(default_factory=list)  # more it may read (the solution's folder)
    network: bool = False
    nice: int = 10
    env: dict[str, str] = field(default_factory=dict)
    # Instead of serving `module`: run pytest on a candidate's visible tests, with
    # {"argv", "cwd"} (`grader.worker.visible`); the channel stays unused.
    pytest: dict[str, Any] | None = None
    # Instead of serving `module`: run the C compiler, with {"argv", "exec", "timeout_s"}
    # (`grader.worker.build`); `exec` lists the only programs it may execute.
    build: dict[str, Any] | None = None


class ZygoteClient:
    """One client's socket to the zygote (thread-safe)."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.lock = threading.Lock()
        self.exits: dict[int, int] = {}
        self.why: dict[int, str] = {}  # why the zygote stopped a worker, when it did
        self.channels: dict[int, socket.socket] = {}  # a spawned worker's socket, until claimed

    def spawn(self, spec: WorkerSpec) -> int:
        spec.folder.mkdir(parents=True, exist_ok=True)
        for sub in ("home", "tmp"):
            (spec.folder / sub).mkdir(exist_ok=True)
        env = {
            **spec.env,
            "HOME": str(spec.folder / "home"),
            "TMPDIR": str(spec.folder / "tmp"),
        }
        request = {
            "op": "spawn",
            "module": spec.module,
            "path": spec.path,
            "dir": str(spec.folder),
            "read": spec.read,
            "limits": spec.limits,
            "network": spec.network,
            "nice": spec.nice,
            "env": env,
        }
        if spec.pytest is not None:
            request.update(entry="pytest", **spec.pytest)
        if spec.build is not None:
            request.update(entry="build", **spec.build)
        ours, theirs = socket.socketpair()
        for end in (ours, theirs):  # a 4 MB tensor in a few system calls, not hundreds
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHANNEL_BUFFER_BYTES)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHANNEL_BUFFER_BYTES)
        with self.lock:
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], [theirs.fileno()])
            finally:
                theirs.close()
            while True:
                reply = self._next(timeout=None)
                if "pid" in reply:
                    break
        pid = int(reply["pid"])
        self.channels[pid] = ours
        return pid

    def _next(self, timeout: float | None) -> dict[str, Any]:
        """The next message from the zygote; exit notices are filed on the way."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        finally:
            self.sock.settimeout(None)
        if not data:
            raise WorkerDied("the grader's worker factory (zygote) stopped")
        message: dict[str, Any] = json.loads(data)
        if "exited" in message:
            self.exits[int(message["exited"])] = int(message["status"])
            if message.get("why"):
                self.why[int(message["exited"])] = str(message["why"])
        if "error" in message:
            raise RuntimeError(f"zygote: {message['error']}")
        return message

    def exit_status(self, pid: int, wait_s: float = EXIT_WAIT_S) -> int | None:
        deadline = time.monotonic() + wait_s
        with self.lock:
            while pid not in self.exits:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                with contextlib.suppress(TimeoutError, socket.timeout):
                    self._next(timeout=left)
            return self.exits[pid]


def describe_exit(status: int | None) -> str:
    """How a worker ended, in words a candidate can act on."""
    if status is None:
        return "the solution's process stopped answering"
    if status < 0:
        return f"the solution's process died from {death(-status)}"
    return f"the solution's process exited with status {status}"


class _CpuClock:
    """A process's CPU time (all its threads), read from outside it."""

    _libc = ctypes.CDLL(None, use_errno=True)

    def __init__(self, pid: int) -> None:
        clock = ctypes.c_int()
        if self._libc.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
            raise OSError(ctypes.get_errno(), "clock_getcpuclockid")
        self.clock = clock.value

    def seconds(self) -> float:
        return time.clock_gettime(self.clock)


class WorkerProcess:
    """A live worker: requests over its channel, and the kernel's figures about it."""

    def __init__(
        self,
        zygote: ZygoteClient,
        pid: int,
        on_handle: Callable[[WorkerProcess, Handle], Any],
        on_exception_class: Callable[[ExceptionClass], Any],
        on_other: Callable[[Any], Handle],
    ) -> None:
        self.zygote = zygote
        self.pid = pid
        self.sock = zygote.channels.pop(pid)
        # Resident before the solution's import, as the worker said before it imported
        # (nothing of the solution's had run yet): what import keeps counts as setup.
        self.import_rss: int | None = None
        self.dead = ""
        self.last_times: tuple[float, float] | None = None  # (CPU, waiting) when killed
        self.hello: dict[str, Any] | None = None
        self._on_handle = on_handle
        self._on_exception_class = on_exception_class
        self._on_other = on_other
        self._clock: _CpuClock | None = None
        self.cpu_mark: float | None = None  # its CPU time when a measured block last ended

    # -- requests ----------------------------------------------------------------------

    def wait_ready(self, timeout_s: float) -> dict[str, Any]:
        """The worker's hello: {"ready": pid} or {"import_error": [...]}; a serving
        worker sends {"import_rss": bytes} first, before it imports the solution."""
        if self.hello is None:
            self.sock.settimeout(timeout_s)
            try:
                first = self._receive(None).value
                if isinstance(first, dict) and "import_rss" in first:
                    self.import_rss = int(first["import_rss"])
                    first = self._receive(None).value
                self.hello = first
            except TimeoutError:
                self.kill()
                raise
            finally:
                if not self.dead:
                    self.sock.settimeout(None)
        assert self.hello is not None
        return self.hello

    def request(self, message: dict[str, Any]) -> tuple[Decoded, Encoder]:
        """Send one request, wait for its reply: (the reply, what the request's encoder
        met: its tensors and generators in wire order). Any interruption (a timeout,
        Ctrl-C) stops the worker: its channel is out of step from then on."""
        if self.dead:
            raise WorkerDied(self.dead)
        header, buffers, encoder = encode(message, self._on_other)
        try:
            send_frame(self.sock, header, buffers)
            return self._receive(encoder.tensors), encoder
        except WorkerDied:
            raise
        except (OSError, EOFError, WireError) as exc:
            self._died(exc)
            raise WorkerDied(self.dead) from None
        except BaseException:
            self.kill()
            raise

    def _receive(self, sent: list[Any] | None) -> Decoded:
        try:
            header, body, start = recv_frame(self.sock)
        except TimeoutError:
            raise  # the caller's limit (an import that takes too long): its message
        except (OSError, EOFError, WireError) as exc:
            self._died(exc)
            raise WorkerDied(self.dead) from None
        tensors = sent or []

        def arg(index: int) -> Any:
            if not 0 <= index < len(tensors):
                raise WireError(f"a reference to argument {index} of {len(tensors)}")
            return tensors[index]

        decoder = Decoder(
            lambda handle: self._on_handle(self, handle), self._on_exception_class, arg
        )
        try:
            return decoder.decode(header, body, start)
        except WireError as exc:
            self.kill()
            self.dead = f"the solution's process sent a malformed reply ({exc})"
            raise WorkerDied(self.dead) from None

    def _died(self, exc: BaseException) -> None:
        if isinstance(exc, WireError):
            self.kill()
            self.dead = f"the solution's process sent a malformed reply ({exc})"
            return
        status = self.zygote.exit_status(self.pid)
        self.kill()
        self.dead = self.zygote.why.get(self.pid) or describe_exit(status)

    def kill(self) -> None:
        with contextlib.suppress(OSError):  # what it ran and waited, kept past its death
            self.last_times = (self.cpu_seconds(), self.waiting_seconds())
        kill_tree(self.pid)
        if not self.dead:
            self.dead = "the solution's process was stopped"
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- what the kernel knows -----------------------------------------------------------

    def cpu_seconds(self) -> float:
        if self._clock is None:
            self._clock = _CpuClock(self.pid)
        return self._clock.seconds()

    def require_alone(self) -> None:
        """A measured worker may start no process: the zygote counts every 0.2 s, and
        this check after measuring makes the verdict not hang on that count's timing."""
        if children(self.pid):
            self.dead = NOT_ALONE
            self.kill()
            raise WorkerDied(NOT_ALONE)

    def waiting_seconds(self) -> float:
        """Time its threads spent ready to run but waiting for a CPU (the scheduler's
        run-queue delay): what a busy machine costs it, as against sleeping or blocking."""
        total = 0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile, or no scheduler statistics
        return total / 1e9

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def resident_bytes(self) -> int:
        return self._status("VmRSS:")

    def peak_resident_bytes(self) -> int:
        return self._status("VmHWM:")

    def reset_peak(self) -> None:
        """Set the peak resident size back to the current one (kernel 4.0+)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
