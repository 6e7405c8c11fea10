"""Landlock (Linux 5.13+): an unprivileged process gives up rights it will never need.

A grader child calls `restrict()` before any candidate code runs. From then on, that
process and everything it starts can:
- write only beneath the grade's private directory (and /dev/null, /dev/shm), so the
  workspace, the kata folder, the history store and the home directory are read-only;
- execute only the Python interpreter and the shared libraries it loads, so a solution
  cannot start a shell or another program (multiprocessing's spawn still works);
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
from pathlib import Path

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights (linux/landlock.h), with the ABI version that introduced each.
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
REMOVE_DIR, REMOVE_FILE = 1 << 4, 1 << 5
MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = (
    1 << i for i in range(6, 13)
)
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FILE_RIGHTS = EXECUTE | WRITE_FILE | TRUNCATE  # the rights that make sense on a file itself


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


def gpu_present() -> bool:
    """An NVIDIA device node: CUDA may be used, and its driver does not work under Landlock."""
    return Path("/dev/nvidiactl").exists()


def restrict(writable: list[Path], *, network: bool) -> list[str]:
    """Apply the rules; return the protections in force (empty if none could be)."""
    abi = abi_version()
    if abi < 1:
        return []
    libc = _libc()
    write = _write_rights(abi)
    attr = _RulesetAttr(handled_access_fs=write | EXECUTE)
    enforced = ["writes confined to the grade's folder", "no programs but Python"]
    if abi >= 4 and not network:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        enforced.append("no TCP connections")
    if abi >= 6:
        attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET
        enforced.append("no signals to other processes")
    # Older kernels accept the larger struct as long as the fields they do not know are 0.
    size = ctypes.sizeof(_RulesetAttr)
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        return []
    try:
        # CUDA opens its device files read-write (/dev/nvidiactl, /dev/nvidia0, ...).
        devices = sorted(Path("/dev").glob("nvidia*"))
        for path in [*writable, Path("/dev/null"), Path("/dev/shm"), *devices]:
            _allow(libc, ruleset, path, write)
        for path in _executables():
            _allow(libc, ruleset, path, EXECUTE)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return []
        if libc.syscall(SYS_RESTRICT_SELF, ruleset, 0) != 0:
            return []
    finally:
        os.close(ruleset)
    return enforced
