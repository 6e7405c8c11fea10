"""Landlock (Linux 5.13+): an unprivileged process gives up rights it will never need.

A worker calls `restrict()` before any candidate code runs. From then on, that
process and everything it starts can:
- read only what `readable` names: the interpreter, the installed dependencies and the
  system's libraries, never the grader, the reference stack, the kata folders, the
  history store or the workspace (`read_rules` works out the rules); of /dev, only the
  devices that hand out bytes (never the user's terminals or disks);
- make no ioctl on a device but the GPU's (Linux 6.10+), so an open terminal could not
  have input typed into it;
- write only beneath its private directory (and /dev/null), so the workspace, the kata
  folder, the history store and the home directory are untouched, and nothing it writes
  outlives the grade (/dev/shm only where asked: for the candidate's own visible tests,
  whose multiprocessing pools need it, and on a GPU, for CUDA and NCCL);
- execute only the Python interpreter and the shared libraries it loads, so a solution
  cannot start a shell or another program (multiprocessing's spawn still works); a
  native build's worker may also execute the C toolchain, and runs no candidate code;
- make no TCP connections and bind no TCP ports, unless the kata needs loopback (the
  ring all-reduce kata runs torch.distributed between local ranks);
- send no signals to processes outside the sandbox (the grader survives `os.kill`).

Each right is handled only if the running kernel's Landlock ABI knows it; `restrict`
returns what was enforced so the report can say so. Off Linux, or with Landlock
disabled, it enforces nothing and says that.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from pathlib import Path

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights (linux/landlock.h), with the ABI version that introduced each.
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE, READ_DIR = 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE = 1 << 4, 1 << 5
MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = (
    1 << i for i in range(6, 13)
)
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

# The rights that make sense on a file itself.
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """0 when Landlock is unavailable."""
    if not sys.platform.startswith("linux"):
        return 0
    version = _libc().syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)
    return max(0, int(version))


def _write_rights(abi: int) -> int:
    rights = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG
    rights |= MAKE_SOCK | MAKE_FIFO | MAKE_BLOCK | MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    return rights


def _allow(libc: ctypes.CDLL, ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # nothing there, nothing to allow
    try:
        if not path.is_dir():
            rights &= FILE_RIGHTS
        attr = _PathBeneathAttr(rights, fd)
        if libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(attr), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def _executables() -> list[Path]:
    """The interpreter, and the folders of the loader and libraries it needs."""
    interpreter = Path(os.path.realpath(sys.executable))
    paths = [interpreter, interpreter.parent.parent / "lib"]
    paths += [Path(p) for p in ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")]
    paths += [Path(sys.base_prefix) / "lib"]
    return paths


# Of /dev, the devices that hand out bytes and nothing else. Not /dev itself: the
# user's terminals (/dev/pts) would be readable, keystrokes included, and so would disks.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def gpu_present() -> bool:
    """An NVIDIA device node: the grade may use CUDA."""
    return Path("/dev/nvidiactl").exists()


# Where a worker may read, before what is forbidden is carved out (`read_rules`).
SYSTEM_ROOTS = ("/usr", "/lib", "/lib64", "/etc", "/sys", "/opt", *DEVICES)
# Of /proc, the machine-wide files libraries read (torch, glibc, multiprocessing); a
# worker's own /proc/PID is added once it exists (`own_proc`). Other processes' entries
# stay closed: their environment may hold a CI job's secrets.
PROC_FILES = (
    "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/loadavg", "/proc/filesystems",
    "/proc/sys", "/proc/version", "/proc/mounts",
)  # fmt: skip


def own_proc() -> list[Path]:
    """This process's /proc entries (call it in the process that will be restricted)."""
    return [Path(f"/proc/{os.getpid()}")]


def read_rules(roots: list[Path], forbidden: list[Path]) -> list[Path]:
    """The folders and files to allow reading so that every root is readable except
    what lies in or under a forbidden path.

    Landlock only allows, it cannot deny below an allowed folder: a root with a
    forbidden path inside is replaced by its entries, recursively along that path.
    With drill installed into site-packages, `site-packages` becomes each of its entries
    but `grader`, `reference`, `drills` and `katas`.
    """
    bad = {Path(os.path.realpath(p)) for p in forbidden}
    rules: list[Path] = []

    def visit(path: Path) -> None:
        if path in bad or any(path.is_relative_to(b) for b in bad):
            return
        if not any(b.is_relative_to(path) for b in bad):
            rules.append(path)
            return
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            visit(Path(os.path.realpath(entry.path)))

    for root in dict.fromkeys(Path(os.path.realpath(r)) for r in roots):
        if root.exists():
            visit(root)
    return list(dict.fromkeys(rules))


def restrict(
    readable: list[Path],
    writable: list[Path],
    *,
    network: bool,
    executables: Sequence[Path] = (),
    shared_memory: bool = False,
) -> list[str]:
    """Apply the rules; return the protections in force (empty if none could be).

    `readable` is the whole read allow-list (see `read_rules`); `writable` folders are
    readable too. `executables`: programs the process may run besides Python (a native
    build's C toolchain; nothing for a worker that runs candidate code)."""
    abi = abi_version()
    if abi < 1:
        return []
    libc = _libc()
    write = _write_rights(abi)
    attr = _RulesetAttr(handled_access_fs=write | EXECUTE | READ_FILE | READ_DIR)
    enforced = [
        "reads limited to Python and its packages",
        "writes confined to the worker's folder",
        "no programs but Python",
    ]
    if abi >= 4 and not network:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        enforced.append("no TCP connections")
    if abi >= 5:  # ioctls on devices: a terminal's TIOCSTI types into the user's shell
        attr.handled_access_fs |= IOCTL_DEV
        enforced.append("no device ioctls but the GPU's")
    if abi >= 6:
        attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET
        enforced.append("no signals to other processes")
    # Older kernels accept the larger struct as long as the fields they do not know are 0.
    size = ctypes.sizeof(_RulesetAttr)
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        return []
    read = READ_FILE | READ_DIR
    try:
        # CUDA opens its device files read-write (/dev/nvidiactl, /dev/nvidia0, ...).
        devices = sorted(Path("/dev").glob("nvidia*"))
        # /dev/shm outlives a grade: a worker that could write there could hand the next
        # grade its results (a replay), so only a run that needs it gets it.
        shm = [Path("/dev/shm")] if shared_memory or devices else []
        for path in [*writable, Path("/dev/null"), *shm]:
            _allow(libc, ruleset, path, write | read)
        ioctl = IOCTL_DEV if abi >= 5 else 0
        for path in devices:  # the CUDA driver talks to the GPU through ioctls
            _allow(libc, ruleset, path, write | read | ioctl)
        for path in readable:
            _allow(libc, ruleset, path, read)
        for path in [*_executables(), *executables]:
            _allow(libc, ruleset, path, EXECUTE)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return []
        if libc.syscall(SYS_RESTRICT_SELF, ruleset, 0) != 0:
            return []
    finally:
        os.close(ruleset)
    return enforced
