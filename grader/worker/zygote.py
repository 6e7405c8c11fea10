"""The zygote: a grade's own process, with torch loaded, that forks a fresh sandboxed
worker on request.

    `grader.worker.zygote.main()` with CONFIG.json, forked by a zygotes' server

A grade needs several workers (the tests' candidate, a fresh one after a crash, a
candidate and a reference for each measurement, the ring kata's ranks); each would
pay 2 to 3 s for `import torch`. The zygote is forked from a server that imported it
(the kata's `preload`) once for the drill process (`grader.forkserver`), before any
untrusted code exists, and each worker starts with torch already loaded. It holds
nothing of ours but this loop and the worker's (no reference, no kata, no judge),
since a fork inherits everything it has.

`drill test` and `drill watch` start one too, with pytest preloaded as well: their
workers run pytest on the candidate's visible tests (`grader.worker.visible`) rather
than serve a judge, under the same sandbox (drills/visible.py).

Clients (the judge's processes) talk to it over SOCK_SEQPACKET sockets (the first
given at start, in DRILL_CLIENT_FD; each judge's through it): a request is one JSON message, with the worker's end of a fresh
socket pair attached (SCM_RIGHTS); the reply is {"pid": N}. When a worker exits, its
client gets {"exited": N, "status": S} (S: exit code, or minus the signal).

No survivors: the zygote is a child subreaper, so anything a worker starts and
detaches (setsid, double fork) becomes the zygote's child when its parent exits, and
the zygote kills every child of its own that is not a worker. When a client goes, its
workers go; when the last client goes, everything goes and the zygote exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from grader.worker import build, landlock, seccomp, visible
from grader.worker import serve as serve_module
from grader.worker.serve import serve
from grader.worker.signals import NOT_ALONE, children, kill_tree

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
POLL_S = 0.05
COUNT_EVERY_S = 0.2  # how often each worker's processes are counted


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


CLONE_NEWIPC = 0x08000000


def _own_ipc_namespace() -> None:
    """System V shared memory, semaphores and message queues outlive processes, and
    Landlock does not govern them: in a namespace of its own, whatever a worker leaves
    there goes with it, and no grade can hand the next one its results. Creating one
    needs privileges (CAP_SYS_ADMIN); without them the worker keeps the machine's
    (docs/security.md says so). Not on a GPU, where the driver may want the machine's."""
    if any(Path("/dev").glob("nvidia*")):
        return
    ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWIPC)


class Zygote:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.clients = {fd: socket.socket(fileno=fd) for fd in config["clients"]}
        self.workers: dict[int, socket.socket] = {}  # pid -> the client that asked for it
        self.max_processes: dict[int, int] = {}
        self.why: dict[int, str] = {}  # why the zygote stopped a worker, if it did
        self.last_count = 0.0
        # The interpreter, the standard library and site-packages, as this process sees them.
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        self.read_roots = [Path(p) for p in [*config["read_roots"], *paths]]
        self.forbidden = [Path(p) for p in config["forbidden"]]

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        while self.clients:
            ready, _, _ = select.select(list(self.clients.values()), [], [], POLL_S)
            for client in ready:
                self._serve(client)
            self._reap()
        self._kill_everything()

    def _serve(self, client: socket.socket) -> None:
        try:
            message, fds, _flags, _addr = socket.recv_fds(client, 1 << 16, 1)
        except OSError:
            message, fds = b"", []
        if not message:
            self._drop(client)
            return
        request = json.loads(message)
        if request.get("op") == "client" and len(fds) == 1:
            self.clients[fds[0]] = socket.socket(fileno=fds[0])  # a judge process of the grade
            return
        if request.get("op") != "spawn" or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            client.send(json.dumps({"error": "bad request"}).encode())
            return
        pid = self._spawn(request, fds[0])
        os.close(fds[0])
        self.workers[pid] = client
        self.max_processes[pid] = int(request["limits"].get("processes", 16))
        client.send(json.dumps({"pid": pid}).encode())

    def _drop(self, client: socket.socket) -> None:
        for pid, owner in list(self.workers.items()):
            if owner is client:
                kill_tree(pid)
        del self.clients[client.fileno()]
        client.close()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            client = self.workers.pop(pid, None)
            self.max_processes.pop(pid, None)
            if client is not None:
                code = os.waitstatus_to_exitcode(status)
                notice = {"exited": pid, "status": code, "why": self.why.pop(pid, "")}
                with contextlib.suppress(OSError):
                    client.send(json.dumps(notice).encode())
        for pid in _children():
            if pid not in self.workers:
                kill_tree(pid)  # an orphan a worker left behind: it outlives nothing
        now = time.monotonic()
        if now - self.last_count >= COUNT_EVERY_S:
            self.last_count = now
            for pid, limit in self.max_processes.items():
                if pid not in self.why and _descendants(pid, limit) >= limit:
                    self.why[pid] = (
                        f"the solution's process started more than {limit - 1} processes"
                        " and was stopped"
                        if limit > 2
                        else NOT_ALONE
                    )
                    kill_tree(pid)

    def _kill_everything(self) -> None:
        for pid in self.workers:
            kill_tree(pid)
        for _ in range(200):
            children = _children()
            if not children:
                break
            for pid in children:
                kill_tree(pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(-1, 0)

    # -- a worker ----------------------------------------------------------------------

    def _spawn(self, request: dict[str, Any], fd: int) -> int:
        # What the judge adds (the solution's folder; for a reference worker, the reference
        # and the hidden folder) is allowed as given; the rest stays clear of `forbidden`.
        readable = landlock.read_rules(self.read_roots, self.forbidden)
        readable += [Path(p) for p in request.get("read", [])]
        pid = os.fork()
        if pid:
            return pid
        try:
            sock = self._become_worker(request, fd, readable)
            serve_module.OUTPUT_CAP_MB = int(request["limits"]["file_mb"])
            code = _work(request, sock)
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
                sys.stderr.flush()
            os._exit(70)
        os._exit(code)

    def _become_worker(
        self, request: dict[str, Any], fd: int, readable: list[Path]
    ) -> socket.socket:
        """In the child: leave the zygote's world and enter the sandbox."""
        os.setsid()  # its own process group: the client stops it and its children at once
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:
            os._exit(1)  # the zygote went while we forked
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _own_ipc_namespace()
        folder = Path(request["dir"])
        out = os.open(folder / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        keep = fd if fd == 3 else os.dup2(fd, 3, inheritable=False)
        os.closerange(4, _max_fd())
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:0] = request["path"]
        importlib.invalidate_caches()
        _limit(request["limits"])
        os.nice(int(request.get("nice", 0)))
        readable += [*landlock.own_proc(), *(Path(p) for p in landlock.PROC_FILES)]
        programs = (
            [Path(p) for p in request.get("exec", [])] if request.get("entry") == "build" else []
        )
        landlock.restrict(
            readable,
            [folder],
            network=bool(request.get("network")),
            executables=programs,
            shared_memory=request.get("entry") == "pytest",  # the candidate's own tests
        )
        # The candidate's own tests may use multiprocessing's unix sockets, as /dev/shm;
        # on a GPU, whose driver and NCCL may use them, they stay open too.
        _leave_the_kernels_other_doors(
            unix_sockets=request.get("entry") == "pytest" or landlock.gpu_present()
        )
        sys.dont_write_bytecode = True
        return socket.socket(fileno=keep)


def _leave_the_kernels_other_doors(unix_sockets: bool) -> None:
    """What Landlock does not govern (grader/worker/seccomp.py): root's capabilities go
    (after the IPC namespace, which needs CAP_SYS_ADMIN, and after Landlock's rules are
    in place, whose folders are opened with root's rights), then the seccomp filter
    refuses the calls that reach other processes of the same user, sockets other than
    TCP, the keyrings and the rest. Where the machine or kernel cannot take the filter,
    the worker runs without it, as it runs without Landlock where that is missing."""
    seccomp.drop_capabilities()
    seccomp.install(unix_sockets)


def _work(request: dict[str, Any], sock: socket.socket) -> int:
    """What the sandboxed worker does: serve a judge's calls into one module (a grade),
    run pytest on the candidate's visible tests, or compile their C sources (kata with
    native code), and exit with its status."""
    if request.get("entry") == "pytest":
        sock.close()  # the parent reads the run's junit file once the worker has exited
        return visible.run(request)
    if request.get("entry") == "build":
        sock.close()  # the parent reads the library and the compiler's output from the folder
        return build.run(request)
    serve(sock, request["module"])
    return 0


def _limit(limits: dict[str, int]) -> None:
    """Lower soft and hard limits; an unprivileged process cannot raise them again."""
    mb = 1 << 20
    wanted = {
        resource.RLIMIT_CPU: limits["cpu_s"],
        resource.RLIMIT_DATA: limits["memory_mb"] * mb,
        resource.RLIMIT_FSIZE: limits["file_mb"] * mb,
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_CORE: 0,
    }
    for what, value in wanted.items():
        _soft, hard = resource.getrlimit(what)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(what, (value, value))


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 65536


def _children() -> list[int]:
    try:
        text = Path(f"/proc/self/task/{os.getpid()}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _descendants(pid: int, stop_at: int) -> int:
    """How many processes `pid` and its descendants are (counting stops at `stop_at`)."""
    seen, todo = 0, [pid]
    while todo and seen < stop_at:
        current = todo.pop()
        seen += 1
        todo.extend(children(current))
    return seen


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    config["clients"] = [int(os.environ.pop("DRILL_CLIENT_FD"))]
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    for name in config.get("preload", []):
        importlib.import_module(name)
    # What is loaded now is shared with every worker, copy-on-write. A collection in a
    # worker would walk (and so copy) all of it, tens of MB at a moment no one chose,
    # inside someone's memory measurement: frozen objects are never collected.
    gc.collect()
    gc.freeze()
    for fd in config["clients"]:
        os.set_inheritable(fd, False)
    Zygote(config).run()
    os._exit(0)  # nothing to flush; tearing down torch would cost the grade a second


if __name__ == "__main__":
    main()
