"""A seccomp filter and a capability drop: what Landlock does not govern.

Landlock decides which files a worker may open and which TCP ports it may use. Some
system calls reach other processes, the network or the kernel by no path at all, and
every process of the same user could be reached through them. A worker calls
`install()` last, after `landlock.restrict`; from then on that process, its threads and
everything it starts get EPERM for:

- changing another process's limits, priority, CPU set, scheduling or I/O priority
  (`prlimit64`, `setpriority`, `sched_setaffinity`, `sched_setscheduler`,
  `sched_setparam`, `sched_setattr`, `ioprio_set`) or moving its pages
  (`migrate_pages`, `move_pages`). A process may change itself, named as 0 (what glibc,
  torch and OpenMP do): a filter inherited by children cannot know their pids, so any
  other pid is refused, the process's own included. `setpriority` and `ioprio_set` may
  name the process or its group (the worker's own), never the user: "every process of
  this user" is what the rule is there to keep out of reach. Reading another process's
  limits (`prlimit64` with no new limit) stays allowed;
- looking into or borrowing from another process (`ptrace`, `process_vm_readv`,
  `process_vm_writev`, `process_madvise`, `kcmp`, `pidfd_getfd`; Landlock refuses most of
  these already, refusing costs nothing);
- making sockets other than TCP (`socket`: `AF_INET` and `AF_INET6` only as
  `SOCK_STREAM` with protocol 0 or TCP, which Landlock governs, and `AF_NETLINK`, which
  glibc uses to list interfaces; no UDP, no `AF_UNIX` to connect to a daemon's socket by
  path, no `AF_VSOCK` to a virtual machine's host). `socketpair` stays allowed, and the
  worker's channel to the judge is a socket it inherited. The worker that runs the
  candidate's own tests, and every worker on a GPU, may also make `AF_UNIX` sockets
  (multiprocessing's forkserver and managers, the GPU's driver). `io_uring` is refused too: it
  makes sockets and connections without these system calls;
- the kernel's keyrings (`add_key`, `request_key`, `keyctl`): a channel from one grade to
  the next, and the user's session keyring;
- namespaces and mounts (`unshare`, `setns`, `mount`, `umount2`, `pivot_root`, `chroot`,
  the new mount API), the host's names (`sethostname`, `setdomainname`);
- `ioctl` requests that type into a terminal (`TIOCSTI`, `TIOCLINUX`) or set a file's
  attribute flags (`FS_IOC_SETFLAGS` and its 32-bit and `FSSETXATTR` forms: an
  immutable folder cannot be cleaned up).

The filter knows x86_64 and aarch64, each with its own system call numbers; a call
made through another ABI (i386's `int 0x80`, x32) is refused whatever it is. On other
machines, off Linux, or where the kernel refuses the filter, `install` enforces nothing
and returns an empty list, the way `landlock.restrict` degrades; otherwise it returns
what it enforced.

`drop_capabilities()` is for a worker started by root: a process with uid 0 keeps every
capability (it could set the host name, make its folder immutable, raise its own
limits), so it empties the bounding, ambient, effective, permitted and inheritable sets.
The worker stays uid 0: files it owns (its folder, made by the judge) and files anyone
may read (the interpreter, site-packages) stay open to it.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
PR_CAPBSET_READ, PR_CAPBSET_DROP = 23, 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Classic BPF (linux/filter.h, linux/bpf_common.h).
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
ALU_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
JEQ_K, JGT_K, JGE_K = 0x15, 0x25, 0x35  # BPF_JMP | BPF_JEQ / BPF_JGT / BPF_JGE | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K
RET_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
RET_EPERM = 0x00050000 | errno.EPERM  # SECCOMP_RET_ERRNO | EPERM

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
NR, ARCH = 0, 4
X32_SYSCALL_BIT = 0x40000000


def _arg(i: int, high: bool = False) -> int:
    """Offset of the low (or high) 32 bits of argument i; both machines are little-endian."""
    return 16 + 8 * i + (4 if high else 0)


AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_TYPE_MASK, IPPROTO_TCP = 1, 0xF, 6
PRIO_PGRP = 1  # setpriority may name PRIO_PROCESS (0) or PRIO_PGRP (1), never PRIO_USER
IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP = 1, 2  # ioprio_set: the same, never IOPRIO_WHO_USER
IOCTLS_REFUSED = (
    0x5412,  # TIOCSTI: type into a terminal
    0x541C,  # TIOCLINUX: the console's selection and more
    0x40086602,  # FS_IOC_SETFLAGS (immutable, append-only)
    0x40046602,  # FS_IOC32_SETFLAGS
    0x401C5820,  # FS_IOC_FSSETXATTR
)


@dataclass(frozen=True)
class Machine:
    audit_arch: int
    numbers: dict[str, int]
    rejects_x32: bool


# System call numbers: arch/x86/entry/syscalls/syscall_64.tbl and asm-generic/unistd.h.
_SHARED = {
    "pidfd_getfd": 438, "process_madvise": 440, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}  # fmt: skip
_X86_64 = {
    "prlimit64": 302, "setpriority": 141, "sched_setparam": 142,
    "sched_setscheduler": 144, "sched_setaffinity": 203, "sched_setattr": 314,
    "ioprio_set": 251, "migrate_pages": 256, "move_pages": 279,
    "process_vm_readv": 310, "process_vm_writev": 311, "ptrace": 101, "kcmp": 312,
    "socket": 41, "add_key": 248, "request_key": 249, "keyctl": 250,
    "sethostname": 170, "setdomainname": 171, "mount": 165, "umount2": 166,
    "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "ioctl": 16,
}  # fmt: skip
_AARCH64 = {
    "prlimit64": 261, "setpriority": 140, "sched_setparam": 118,
    "sched_setscheduler": 119, "sched_setaffinity": 122, "sched_setattr": 274,
    "ioprio_set": 30, "migrate_pages": 238, "move_pages": 239,
    "process_vm_readv": 270, "process_vm_writev": 271, "ptrace": 117, "kcmp": 272,
    "socket": 198, "add_key": 217, "request_key": 218, "keyctl": 219,
    "sethostname": 161, "setdomainname": 162, "mount": 40, "umount2": 39,
    "pivot_root": 41, "chroot": 51, "unshare": 97, "setns": 268, "ioctl": 29,
}  # fmt: skip
MACHINES = {
    "x86_64": Machine(0xC000003E, {**_X86_64, **_SHARED}, rejects_x32=True),  # AUDIT_ARCH_X86_64
    "aarch64": Machine(0xC00000B7, {**_AARCH64, **_SHARED}, rejects_x32=False),  # ..._AARCH64
}
MACHINES["arm64"] = MACHINES["aarch64"]

ENFORCED = [
    "no changing other processes' limits, priorities or CPUs",
    "no sockets but TCP",
    "no kernel keyrings",
    "no namespaces, mounts, host names, terminal input or file flags",
]

# A program is a list of (code, jt, jf, k) instructions. In a syscall's checks, a jump
# is an offset or "allow" / "deny": the two returns `_block` puts after them.
Jump = int | str
Instruction = tuple[int, Jump, Jump, int]


def _block(body: list[Instruction]) -> list[Instruction]:
    """A syscall's checks followed by its two returns, jumps resolved to offsets."""
    allow_at, deny_at = len(body), len(body) + 1
    out: list[Instruction] = []
    for at, (code, true, false, k) in enumerate(body):

        def offset(target: Jump, at: int = at) -> int:
            if isinstance(target, int):
                return target
            return (allow_at if target == "allow" else deny_at) - at - 1

        out.append((code, offset(true), offset(false), k))
    return [*out, (RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_EPERM)]


def _load(offset: int) -> Instruction:
    return (LD_W_ABS, 0, 0, offset)


def _jeq(value: int, true: Jump, false: Jump) -> Instruction:
    return (JEQ_K, true, false, value)


def _deny_always() -> list[Instruction]:
    return [(RET_K, 0, 0, RET_EPERM)]


def _self_only(i: int) -> list[Instruction]:
    """Argument i (a pid) must be 0: the calling process (or thread) itself."""
    return _block([_load(_arg(i)), _jeq(0, "allow", "deny")])


def _prlimit() -> list[Instruction]:
    """Itself (pid 0), or another process's limits only read (no new limit)."""
    return _block(
        [
            _load(_arg(0)),
            _jeq(0, "allow", 0),
            _load(_arg(2)),
            _jeq(0, 0, "deny"),
            _load(_arg(2, high=True)),
            _jeq(0, "allow", "deny"),
        ]
    )


def _own_process_or_group(lowest: int, highest: int) -> list[Instruction]:
    """`which` (arg 0) between `lowest` and `highest`, `who` (arg 1) 0: itself, its group."""
    return _block(
        [
            _load(_arg(0)),
            (JGE_K, 0, "deny", lowest),
            (JGT_K, "deny", 0, highest),
            _load(_arg(1)),
            _jeq(0, "allow", "deny"),
        ]
    )


def _socket(unix: bool = False) -> list[Instruction]:
    unix_rule = [_jeq(AF_UNIX, "allow", 0)] if unix else []
    return _block(
        [
            _load(_arg(0)),
            *unix_rule,
            _jeq(AF_NETLINK, "allow", 0),
            _jeq(AF_INET, 1, 0),
            _jeq(AF_INET6, 0, "deny"),
            _load(_arg(1)),
            (ALU_AND_K, 0, 0, SOCK_TYPE_MASK),
            _jeq(SOCK_STREAM, 0, "deny"),
            _load(_arg(2)),
            _jeq(0, "allow", 0),
            _jeq(IPPROTO_TCP, "allow", "deny"),
        ]
    )


def _ioctl() -> list[Instruction]:
    """Any request but those refused (the last check falls through to "allow")."""
    return _block([_load(_arg(1)), *(_jeq(request, "deny", 0) for request in IOCTLS_REFUSED)])


# Refused whatever their arguments.
_REFUSED = [
    "process_vm_readv", "process_vm_writev", "process_madvise", "ptrace", "kcmp",
    "pidfd_getfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "add_key", "request_key", "keyctl", "sethostname", "setdomainname", "mount",
    "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
]  # fmt: skip
RULES: dict[str, Callable[[], list[Instruction]]] = {
    "prlimit64": _prlimit,
    "setpriority": lambda: _own_process_or_group(0, PRIO_PGRP),
    "ioprio_set": lambda: _own_process_or_group(IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP),
    "sched_setaffinity": lambda: _self_only(0),
    "sched_setscheduler": lambda: _self_only(0),
    "sched_setparam": lambda: _self_only(0),
    "sched_setattr": lambda: _self_only(0),
    "migrate_pages": lambda: _self_only(0),
    "move_pages": lambda: _self_only(0),
    "socket": _socket,
    "ioctl": _ioctl,
    **dict.fromkeys(_REFUSED, _deny_always),
}


def program(machine: Machine, unix_sockets: bool = False) -> list[tuple[int, int, int, int]]:
    """The filter for one machine: (code, jt, jf, k) instructions. `unix_sockets` lets
    `AF_UNIX` sockets be made (the candidate's own tests: multiprocessing's forkserver
    and managers talk over them; a GPU's driver may too)."""
    rules: dict[str, Callable[[], list[Instruction]]] = {
        **RULES,
        "socket": functools.partial(_socket, unix_sockets),
    }
    prog: list[Instruction] = [
        _load(ARCH),
        _jeq(machine.audit_arch, 1, 0),
        (RET_K, 0, 0, RET_EPERM),  # another ABI (i386 through int 0x80): refused
        _load(NR),
    ]
    if machine.rejects_x32:
        prog += [(JGE_K, 0, 1, X32_SYSCALL_BIT), (RET_K, 0, 0, RET_EPERM)]
    for name, rule in rules.items():
        # Each block ends in returns, so the number stays loaded for the next comparison.
        block = rule()
        prog += [_jeq(machine.numbers[name], 0, len(block)), *block]
    prog.append((RET_K, 0, 0, RET_ALLOW))
    resolved = [(c, int(t), int(f), k) for c, t, f, k in prog]
    if not all(0 <= t <= 255 and 0 <= f <= 255 for _, t, f, _ in resolved):
        raise ValueError("a jump in the seccomp filter is out of reach")  # a block too long
    return resolved


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def machine() -> Machine | None:
    """The running machine's table, or None where the filter does not know it."""
    if not sys.platform.startswith("linux"):
        return None
    return MACHINES.get(platform.machine())


def install(unix_sockets: bool = False) -> list[str]:
    """Install the filter in this process; return what it enforces (empty if nothing:
    an unknown machine, or a kernel without seccomp filters)."""
    known = machine()
    if known is None:
        return []
    instructions = program(known, unix_sockets)
    table = (_SockFilter * len(instructions))(*(_SockFilter(*i) for i in instructions))
    prog = _SockFprog(len(instructions), table)
    libc = _libc()
    zero = ctypes.c_ulong(0)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), zero, zero, zero) != 0:
        return []
    mode = ctypes.c_ulong(SECCOMP_MODE_FILTER)
    if libc.prctl(PR_SET_SECCOMP, mode, ctypes.byref(prog), zero, zero) != 0:
        return []
    return list(ENFORCED)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _last_cap() -> int:
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 63


def drop_capabilities() -> bool:
    """Give up every capability for good, if this process has any (root does).

    Returns whether there were any to drop. Raises OSError if an effective, permitted,
    inheritable or ambient one remains: a worker must not run a solution with root's
    powers because a drop went wrong. The bounding set is emptied where the process may
    (CAP_SETPCAP); where it may not, no_new_privs (set by Landlock and by `install`)
    keeps an exec from gaining what the bounding set still names."""
    libc = _libc()
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    if os.geteuid() != 0 and not any(d.effective or d.permitted or d.inheritable for d in data):
        return False
    zero = ctypes.c_ulong(0)
    # A kernel before 4.3 has no ambient set: EINVAL, and nothing to clear.
    libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), zero, zero, zero)
    for cap in range(_last_cap() + 1):
        # Without this, uid 0 would be given every capability again by an exec.
        if libc.prctl(PR_CAPBSET_READ, ctypes.c_ulong(cap), zero, zero, zero) == 1:
            libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), zero, zero, zero)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    if libc.capset(ctypes.byref(header), (_CapData * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    left = [
        line
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith(("CapInh:", "CapPrm:", "CapEff:", "CapAmb:"))
        and int(line.split()[1], 16) != 0
    ]
    if left:
        raise OSError(errno.EPERM, f"capabilities left after dropping them: {left}")
    return True
