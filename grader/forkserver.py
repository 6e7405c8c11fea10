"""Warm fork servers: import torch (and the rest) once per drill process, fork per child.

A grade starts a zygote and one or two judge processes, and each paid 3 to 4 s of CPU
for `import torch` (with pytest and hypothesis, for a judge) before doing anything;
on a 2-core machine those imports competed with each other, and a batch of grades or
`drill validate` paid them for every grade. A fork server pays them once: it imports
what its children need, then forks one child per request, which becomes the process a
fresh `python -I -m MODULE ARGS` would have been: its own session, working folder,
environment, output file and descriptors, and `MODULE.main()`.

The servers of a drill process, started as a grade begins (`grader.sandbox`):
- the judges' server holds our trusted code (pytest, hypothesis, the judge modules);
- a zygotes' server per kata preload holds what the kata's workers preload (torch) and
  the zygote's own module, nothing more, since every sandboxed worker descends from it
  (a zygote holds nothing of ours, and the server it forks from must not either).
Neither ever runs candidate code: a zygote forks workers only after it has left its
server, and each grade still gets a zygote of its own.

The parent talks to a server over a socket pair only the two of them hold: a request
is one JSON message with descriptors attached (SCM_RIGHTS): a socket for the reply,
the child's output file, then the descriptors it is given. The reply is {"pid": N},
then {"exited": N, "status": S} (S: exit code, or minus the signal). When the parent
closes its end, the server kills the child's process group. The server dies with its
parent, and its children with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import io
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from typing import Any

from grader.worker.signals import kill_tree

PR_SET_PDEATHSIG = 1
MAX_FDS = 8
MESSAGE_BYTES = 1 << 20
# A server that has not forked a child this long after the request (its imports
# included, on a loaded machine) is taken for broken.
START_LIMIT_S = 300.0


class ServerError(Exception):
    """The fork server could not start a child (what it said, or that it is gone)."""


# -- in the server --------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent went before the line above
        os._exit(1)


class _Child:
    def __init__(self, pid: int, reply: socket.socket) -> None:
        self.pid = pid
        self.reply = reply
        self.pidfd = os.pidfd_open(pid)
        self.abandoned = False  # the parent closed its end: nobody waits for the status


class _Server:
    def __init__(self, control: socket.socket, broken: str) -> None:
        self.control = control
        self.broken = broken  # why the preload failed, if it did: every request says so
        self.children: dict[int, _Child] = {}  # by pidfd

    def run(self) -> None:
        while True:
            watched: list[Any] = [self.control, *self.children]
            watched += [c.reply for c in self.children.values() if not c.abandoned]
            ready, _, _ = select.select(watched, [], [])
            for item in ready:
                if item is self.control:
                    if not self._serve():
                        return
                elif isinstance(item, int):
                    self._reap(self.children[item])
                else:
                    self._abandon(item)

    def _serve(self) -> bool:
        try:
            message, fds, _flags, _addr = socket.recv_fds(self.control, MESSAGE_BYTES, MAX_FDS)
        except OSError:
            message, fds = b"", []
        if not message:  # the parent is gone: so is everything it started
            for child in self.children.values():
                kill_tree(child.pid)
            return False
        if len(fds) < 2:
            for fd in fds:
                os.close(fd)
            return True
        reply = socket.socket(fileno=fds[0])
        if self.broken:
            _send(reply, {"error": self.broken})
            for fd in fds[1:]:
                os.close(fd)
            reply.close()
            return True
        request = json.loads(message)
        pid = self._fork(request, reply, fds[1], fds[2:])
        for fd in fds[1:]:
            os.close(fd)
        child = _Child(pid, reply)
        self.children[child.pidfd] = child
        _send(reply, {"pid": pid})
        return True

    def _fork(self, request: dict[str, Any], reply: socket.socket, out: int, fds: list[int]) -> int:
        # The child tells us (by closing its end) once it leads a session of its own: from
        # then on, killing its process group reaches it.
        settled_r, settled_w = os.pipe()
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                _die_with_parent(server)
                os.close(settled_w)
                _become(request, out, fds)
            except BaseException:
                with contextlib.suppress(BaseException):
                    traceback.print_exc()
                    sys.stderr.flush()
                os._exit(70)
        os.close(settled_w)
        os.read(settled_r, 1)
        os.close(settled_r)
        return pid

    def _reap(self, child: _Child) -> None:
        _, status = os.waitpid(child.pid, 0)
        _send(child.reply, {"exited": child.pid, "status": os.waitstatus_to_exitcode(status)})
        child.reply.close()
        os.close(child.pidfd)
        del self.children[child.pidfd]

    def _abandon(self, reply: socket.socket) -> None:
        for child in self.children.values():
            if child.reply is reply:
                child.abandoned = True
                kill_tree(child.pid)


def _become(request: dict[str, Any], out: int, fds: list[int]) -> None:
    """In the child: the process `python -I -m MODULE ARGS` would have been; never returns."""
    os.dup2(out, 1)
    os.dup2(out, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    keep = {0, 1, 2, *fds}
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            with contextlib.suppress(OSError):
                os.close(int(name))
    sys.stdout, sys.stderr = _unbuffered(1), _unbuffered(2)  # as PYTHONUNBUFFERED would
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for name, fd in zip(request["fds"], fds, strict=True):
        os.set_inheritable(fd, True)  # as pass_fds would have left it
        os.environ[name] = str(fd)
    tempfile.tempdir = None  # chosen again, from this child's TMPDIR
    sys.argv = [request["module"], *request["argv"]]
    code = 0
    try:
        returned = importlib.import_module(request["module"]).main()
        code = returned if isinstance(returned, int) else 0  # as `sys.exit(main())` would
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _unbuffered(fd: int) -> io.TextIOWrapper:
    stream = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115
    stream.reconfigure(write_through=True)
    return stream


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        sock.send(json.dumps(message).encode())


def main() -> None:
    """python -I -m grader.forkserver CONTROL_FD MODULE...: import, then serve."""
    _die_with_parent(int(os.environ.pop("DRILL_PARENT_PID")))
    control = socket.socket(fileno=int(sys.argv[1]))
    os.set_inheritable(control.fileno(), False)
    broken = ""
    for name in sys.argv[2:]:
        try:
            importlib.import_module(name)
        except BaseException as exc:
            broken = f"importing {name} failed: {type(exc).__name__}: {exc}"
            break
    # What is loaded now is shared with every child, copy-on-write; frozen objects are
    # never collected, so no child copies all of it at a moment no one chose.
    gc.collect()
    gc.freeze()
    _Server(control, broken).run()
    os._exit(0)


# -- in the parent --------------------------------------------------------------------


class Forked:
    """A child of a fork server, as the parent sees it: a Popen-like handle."""

    def __init__(self, reply: socket.socket, pid: int) -> None:
        self._reply = reply
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            ready, _, _ = select.select([self._reply], [], [], 0)
            if ready:
                self._read()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready, _, _ = select.select([self._reply], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired(f"process {self.pid}", timeout or 0.0)
            self._read()
        assert self.returncode is not None
        return self.returncode

    def _read(self) -> None:
        try:
            message = self._reply.recv(MESSAGE_BYTES)
        except OSError:
            message = b""
        # No message: the server went, and took its children with it.
        status = json.loads(message).get("status") if message else None
        self.returncode = int(status) if isinstance(status, int) else -signal.SIGKILL
        self._reply.close()


class ForkServer:
    """A server started on first use, with `preload` imported and `env()` as its
    environment from the start: what an interpreter reads only as it starts (such as
    PYTHONHASHSEED, or glibc's malloc settings) is the same in every child."""

    def __init__(self, preload: list[str], env: Callable[[], dict[str, str]]) -> None:
        self.preload = preload
        self.env = env
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def spawn(
        self,
        module: str,
        args: list[str],
        *,
        cwd: str,
        env: dict[str, str],
        output: int,
        fds: dict[str, int] | None = None,
    ) -> Forked:
        """Fork `module.main()` with `args`; each of `fds` is passed to the child under
        the environment variable that names it. A server found gone is started again."""
        request = {"module": module, "argv": args, "cwd": cwd, "env": env, "fds": list(fds or {})}
        passed = [output, *(fds or {}).values()]
        for _ in range(2):
            reply, sock = self._ask(request, passed)
            if "pid" in reply:
                return Forked(sock, int(reply["pid"]))
            sock.close()
            if "error" in reply or not self._forget():
                break
        raise ServerError(str(reply.get("error", "the fork server stopped")))

    def _ask(self, request: dict[str, Any], fds: list[int]) -> tuple[dict[str, Any], socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._lock:
                message = [json.dumps(request).encode()]
                try:
                    socket.send_fds(self._running(), message, [theirs.fileno(), *fds])
                except OSError:
                    return {}, ours
        finally:
            theirs.close()
        ours.settimeout(START_LIMIT_S)
        try:
            answer = ours.recv(MESSAGE_BYTES)
        except (TimeoutError, OSError):
            answer = b""
        ours.settimeout(None)
        reply: dict[str, Any] = json.loads(answer) if answer else {}
        return reply, ours

    def start(self) -> None:
        """Start the server now if it is not running, without waiting for its imports."""
        with self._lock:
            self._running()

    def _running(self) -> socket.socket:
        if self._proc is not None and self._proc.poll() is None and self._control is not None:
            return self._control
        if self._control is not None:
            self._control.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = _launch(
                [sys.executable, "-I", "-m", __name__, str(theirs.fileno()), *self.preload],
                {**self.env(), "DRILL_PARENT_PID": str(os.getpid())},
                theirs.fileno(),
            )
        finally:
            theirs.close()
        self._control = ours
        return ours

    def _forget(self) -> bool:
        """Whether the server had exited (the next request starts another)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is None:
                return False
            self._proc = None
            if self._control is not None:
                self._control.close()
                self._control = None
            return True


def _launch(cmd: list[str], env: dict[str, str], fd: int) -> subprocess.Popen[bytes]:
    """Start the server from a thread that lives as long as this process: the server
    dies with the thread that started it (PR_SET_PDEATHSIG counts threads), and the
    thread that asks first may be a grade's, which ends with the grade."""
    started: queue.Queue[subprocess.Popen[bytes] | BaseException] = queue.Queue()

    def launch() -> None:
        try:
            started.put(
                subprocess.Popen(
                    cmd,
                    cwd="/",
                    env=env,
                    pass_fds=[fd],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C at the terminal is the parent's to handle
                )
            )
        except BaseException as exc:
            started.put(exc)
            return
        threading.Event().wait()

    threading.Thread(target=launch, name="forkserver", daemon=True).start()
    proc = started.get()
    if isinstance(proc, BaseException):
        raise ServerError(f"the fork server did not start: {proc}")
    return proc


if __name__ == "__main__":
    main()
