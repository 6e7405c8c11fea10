"""What a worker cannot do through system calls Landlock does not govern.

Each test starts a real zygote (without torch) and a worker serving a small module,
the way a grade does, then asks it to reach another process of the same user, make a
socket, use the kernel's keyrings, type into a terminal. A sleeping process this test
starts stands in for the user's other processes (an editor, the grader itself).
The filter's program is also run here on made-up system calls of both machines it
knows, so aarch64's table is checked on any machine.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.judge.remote import Session
from grader.paths import package_dir
from grader.worker import landlock, seccomp
from tests.grader.sandboxed import serving

PROBE = '''
import ctypes, errno, json, os, resource, socket, threading

libc = ctypes.CDLL(None, use_errno=True)


def _errno(call) -> int:
    """0 if the call succeeded, else its errno."""
    try:
        result = call()
    except OSError as e:
        return e.errno or -1
    if isinstance(result, int) and result < 0:
        return ctypes.get_errno()
    if isinstance(result, socket.socket):
        result.close()
    return 0


def set_open_files(pid: int, limits: list[int]) -> int:
    return _errno(lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE, tuple(limits)))


def read_open_files(pid: int) -> list[int]:
    return list(resource.prlimit(pid, resource.RLIMIT_NOFILE))


def renice(which: int, who: int, value: int) -> int:
    return _errno(lambda: os.setpriority(which, who, value))


def pin(pid: int) -> int:
    return _errno(lambda: os.sched_setaffinity(pid, os.sched_getaffinity(0)))


def schedule(pid: int) -> int:
    return _errno(lambda: os.sched_setscheduler(pid, os.SCHED_BATCH, os.sched_param(0)))


def io_priority(which: int, who: int) -> int:
    # ioprio_set(which, who, IOPRIO_CLASS_BE << 13 | 7): the lowest best-effort level.
    return _errno(lambda: libc.syscall(NUMBERS["ioprio_set"], which, who, (2 << 13) | 7))


def on_itself() -> dict[str, int]:
    """What a process does to itself (glibc, torch, OpenMP), named as 0: in the worker,
    in a thread of it, and in a process it forks."""
    def calls() -> dict[str, int]:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        # Never below the current niceness: lowering it needs CAP_SYS_NICE, which a
        # worker gives up, and these tests may themselves run niced (nice 19 in CI).
        nicer = max(15, os.getpriority(os.PRIO_PROCESS, 0))
        return {
            "prlimit": _errno(lambda: resource.prlimit(0, resource.RLIMIT_NOFILE, (soft - 1, hard))),
            "setrlimit": _errno(lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0))),
            "setpriority": _errno(lambda: os.setpriority(os.PRIO_PROCESS, 0, nicer)),
            "setpriority-group": _errno(lambda: os.setpriority(os.PRIO_PGRP, 0, nicer)),
            "sched_setaffinity": _errno(lambda: os.sched_setaffinity(0, os.sched_getaffinity(0))),
            "ioprio_set": _errno(lambda: libc.syscall(NUMBERS["ioprio_set"], 1, 0, (2 << 13) | 7)),
        }
    seen = {f"worker {k}": v for k, v in calls().items()}
    box: dict[str, int] = {}
    thread = threading.Thread(target=lambda: box.update(calls()))
    thread.start()
    thread.join()
    seen.update({f"thread {k}": v for k, v in box.items()})
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(w, json.dumps(calls()).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(child, 0)
    seen.update({f"child {k}": v for k, v in json.loads(os.read(r, 4096)).items()})
    return seen


def make_socket(family: int, kind: int, protocol: int) -> int:
    return _errno(lambda: socket.socket(family, kind, protocol))


def make_socketpair() -> int:
    return _errno(lambda: socket.socketpair()[0])


def keyrings() -> dict[str, int]:
    KEY_SPEC_PROCESS_KEYRING, KEY_SPEC_SESSION_KEYRING, KEYCTL_GET_KEYRING_ID = -2, -3, 0
    return {
        "keyctl": _errno(lambda: libc.syscall(NUMBERS["keyctl"], KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)),
        "add_key": _errno(lambda: libc.syscall(NUMBERS["add_key"], b"user", b"drill-probe", b"x", 1, KEY_SPEC_PROCESS_KEYRING)),
        "request_key": _errno(lambda: libc.syscall(NUMBERS["request_key"], b"user", b"drill-probe", None, 0)),
    }


def keep_folder_flags() -> list[int]:
    """Its own folder's attribute flags read, then written back unchanged."""
    fd = os.open(".", os.O_RDONLY)
    try:
        flags = ctypes.c_long(0)
        got = _errno(lambda: libc.ioctl(fd, ctypes.c_ulong(0x80086601), ctypes.byref(flags)))
        put = _errno(lambda: libc.ioctl(fd, ctypes.c_ulong(0x40086602), ctypes.byref(flags)))
        return [got, put]
    finally:
        os.close(fd)


def terminal_input() -> int:
    """TIOCSTI on its stdin (/dev/null: not a terminal, ENOTTY, unless refused first)."""
    char = ctypes.c_char(b"x")
    return _errno(lambda: libc.ioctl(0, ctypes.c_ulong(0x5412), ctypes.byref(char)))


def host_name() -> int:
    name = socket.gethostname().encode()
    return _errno(lambda: libc.sethostname(name, len(name)))


def new_namespace() -> int:
    return _errno(lambda: libc.unshare(0x10000000))  # CLONE_NEWUSER


def ring() -> int:
    params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
    return _errno(lambda: libc.syscall(NUMBERS["io_uring_setup"], 1, params))


def capabilities() -> dict[str, int]:
    status = open("/proc/self/status").read().splitlines()
    return {line.split(":")[0]: int(line.split()[1], 16) for line in status if line.startswith("Cap")}


def read(path: str) -> int:
    with open(path, "rb") as f:
        return len(f.read())


def write(name: str) -> int:
    with open(name, "w") as f:
        return f.write("mine")
'''


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[Session]:
    """A session serving PROBE from a private folder, under the grade's sandbox."""
    known = seccomp.machine()
    numbers = known.numbers if known else {}
    ours = [p for p in (package_dir(n) for n in ("grader", "reference", "katas")) if p]
    with serving(tmp_path, f"NUMBERS = {numbers!r}\n{PROBE}", ours) as session:
        yield session


@pytest.fixture
def bystander() -> Iterator[int]:
    """Another process of the same user, outside the sandbox: the user's editor. It
    holds no capabilities, as an ordinary user's processes do; run as root, the kernel
    would otherwise refuse a capless worker's renice of it on its own."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        start_new_session=True,
        preexec_fn=seccomp.drop_capabilities,
    )
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


needs_filter = pytest.mark.skipif(
    seccomp.machine() is None, reason="the seccomp filter knows only x86_64 and aarch64"
)
needs_landlock = pytest.mark.skipif(
    landlock.abi_version() < 1, reason="a worker, as grades start it, needs Landlock"
)
EPERM = errno.EPERM


def _said(what: str, expected: int, got: int) -> str:
    def name(code: int) -> str:
        return "success" if code == 0 else errno.errorcode.get(code, str(code))

    return f"{what}: expected {name(expected)}, the worker got {name(got)}"


@needs_landlock
@needs_filter
def test_a_worker_cannot_change_another_processs_limits(probe: Session, bystander: int) -> None:
    before = resource.prlimit(bystander, resource.RLIMIT_NOFILE)
    got = probe.module.set_open_files(bystander, [16, 16])
    assert got == EPERM, _said("prlimit(RLIMIT_NOFILE) on another process", EPERM, got)
    after = resource.prlimit(bystander, resource.RLIMIT_NOFILE)
    assert after == before, f"the other process's open-files limit went from {before} to {after}"
    # The judge's process (here this one), to the limits it has: were the call let
    # through, this test would not starve the rest of the run of files.
    mine = list(resource.getrlimit(resource.RLIMIT_NOFILE))
    got = probe.module.set_open_files(os.getpid(), mine)
    assert got == EPERM, _said("prlimit(RLIMIT_NOFILE) on the judge", EPERM, got)
    # Reading another process's limits changes nothing, and stays allowed.
    assert probe.module.read_open_files(bystander) == list(before)


@needs_landlock
@needs_filter
def test_a_worker_cannot_renice_pin_or_reschedule_another_process(
    probe: Session, bystander: int
) -> None:
    # Only the bystander is named: PRIO_USER (every process of the user) is checked on
    # the filter's program below, since a filter that let it through would renice the
    # whole machine's processes of this user from this test.
    sol = probe.module
    nice = os.getpriority(os.PRIO_PROCESS, bystander)
    refused = {
        "setpriority(PRIO_PROCESS, another pid)": sol.renice(os.PRIO_PROCESS, bystander, 19),
        "setpriority(PRIO_PGRP, another group)": sol.renice(os.PRIO_PGRP, bystander, 19),
        "sched_setaffinity(another pid)": sol.pin(bystander),
        "sched_setscheduler(another pid)": sol.schedule(bystander),
        "ioprio_set(IOPRIO_WHO_PROCESS, another pid)": sol.io_priority(1, bystander),
    }
    wrong = {call: got for call, got in refused.items() if got != EPERM}
    assert not wrong, "; ".join(_said(call, EPERM, got) for call, got in wrong.items())
    assert os.getpriority(os.PRIO_PROCESS, bystander) == nice, "the other process was reniced"


@needs_landlock
@needs_filter
def test_a_worker_its_threads_and_children_may_change_themselves(probe: Session) -> None:
    seen = probe.module.on_itself()
    assert len(seen) == 18, f"expected 6 calls in each of 3 places, got {sorted(seen)}"
    wrong = {call: got for call, got in seen.items() if got != 0}
    assert not wrong, "; ".join(_said(f"{call} on itself", 0, got) for call, got in wrong.items())


@needs_landlock
@needs_filter
@pytest.mark.parametrize(
    ("family", "kind", "protocol"),
    [
        pytest.param(2, 2, 0, id="udp"),
        pytest.param(10, 2 | 0o2000000, 0, id="udp6-cloexec"),
        pytest.param(2, 2 | 0o4000, 1, id="icmp-nonblocking"),
        pytest.param(2, 3, 255, id="raw"),
        pytest.param(2, 1, 132, id="sctp-stream"),
        pytest.param(2, 5, 0, id="seqpacket"),
        pytest.param(1, 1, 0, id="unix-stream"),
        pytest.param(1, 2, 0, id="unix-datagram"),
        pytest.param(40, 1, 0, id="vsock"),
    ],
)
def test_a_worker_can_make_no_socket_but_tcp(
    probe: Session, family: int, kind: int, protocol: int
) -> None:
    got = probe.module.make_socket(family, kind, protocol)
    assert got == EPERM, _said(f"socket({family}, {kind:#x}, {protocol})", EPERM, got)


@needs_landlock
@needs_filter
def test_tcp_sockets_and_socket_pairs_stay_allowed(probe: Session) -> None:
    # TCP is Landlock's to govern (the ring kata's ranks connect on loopback);
    # multiprocessing's duplex pipes are socket pairs.
    made = {
        "socket(AF_INET, SOCK_STREAM)": probe.module.make_socket(2, 1, 0),
        "socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP)": probe.module.make_socket(
            10, 1 | 0o4000, 6
        ),
        "socket(AF_NETLINK, SOCK_RAW)": probe.module.make_socket(16, 3, 0),
        "socketpair(AF_UNIX)": probe.module.make_socketpair(),
    }
    wrong = {call: got for call, got in made.items() if got != 0}
    assert not wrong, "; ".join(_said(call, 0, got) for call, got in wrong.items())


@needs_landlock
@needs_filter
def test_a_worker_cannot_use_the_kernels_keyrings(probe: Session) -> None:
    seen = probe.module.keyrings()
    wrong = {call: got for call, got in seen.items() if got != EPERM}
    assert not wrong, "; ".join(_said(call, EPERM, got) for call, got in wrong.items())


@needs_landlock
@needs_filter
def test_a_worker_cannot_type_into_a_terminal(probe: Session) -> None:
    got = probe.module.terminal_input()
    assert got == EPERM, _said(
        "ioctl(TIOCSTI) (on /dev/null: ENOTTY without the filter)", EPERM, got
    )


@needs_landlock
@needs_filter
def test_a_worker_cannot_set_its_folders_flags(probe: Session) -> None:
    got, put = probe.module.keep_folder_flags()
    assert got != EPERM, _said("ioctl(FS_IOC_GETFLAGS) on its own folder (reading)", 0, got)
    assert put == EPERM, _said("ioctl(FS_IOC_SETFLAGS) on its own folder, unchanged", EPERM, put)


@needs_landlock
@needs_filter
def test_a_worker_cannot_name_the_host_unshare_or_use_io_uring(probe: Session) -> None:
    seen = {
        "sethostname (to the name it has)": probe.module.host_name(),
        "unshare(CLONE_NEWUSER)": probe.module.new_namespace(),
        "io_uring_setup": probe.module.ring(),
    }
    wrong = {call: got for call, got in seen.items() if got != EPERM}
    assert not wrong, "; ".join(_said(call, EPERM, got) for call, got in wrong.items())


@needs_landlock
def test_a_worker_holds_no_capability(probe: Session) -> None:
    caps = probe.module.capabilities()
    held = {name: f"{value:#x}" for name, value in caps.items() if value}
    if os.geteuid() != 0:
        held.pop("CapBnd", None)  # a user's bounding set is full, and gives it nothing
    assert not held, f"expected no capabilities in the worker, it holds {held}"


@needs_landlock
def test_a_worker_without_capabilities_still_reads_and_writes_what_it_should(
    probe: Session, tmp_path: Path
) -> None:
    # As root, a process without CAP_DAC_OVERRIDE is held to the files' owner and modes.
    sol = probe.module
    assert sol.write("mine.txt") == 4
    assert sol.read("mine.txt") == 4
    assert sol.read(pytest.__file__) > 0  # site-packages
    assert sol.read(str(tmp_path / "grade" / "solution" / "solution.py")) > 0


# -- the program itself, on made-up system calls --------------------------------------

# struct seccomp_data is nr, arch, instruction pointer, six arguments.
X32_BIT = 0x40000000


def _run(prog: list[tuple[int, int, int, int]], nr: int, arch: int, args: list[int]) -> int:
    """A classic BPF interpreter for the instructions the filter uses."""
    words = {0: nr & 0xFFFFFFFF, 4: arch}
    for i, value in enumerate([*args, *[0] * (6 - len(args))]):
        value &= (1 << 64) - 1
        words[16 + 8 * i], words[20 + 8 * i] = value & 0xFFFFFFFF, value >> 32
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == seccomp.LD_W_ABS:
            acc = words[k]
        elif code == seccomp.ALU_AND_K:
            acc &= k
        elif code == seccomp.RET_K:
            return k
        else:
            taken = {seccomp.JEQ_K: acc == k, seccomp.JGT_K: acc > k, seccomp.JGE_K: acc >= k}
            pc += jt if taken[code] else jf
        pc += 1


@pytest.mark.parametrize("name", ["x86_64", "aarch64"])
def test_the_filter_decides_each_call_by_its_arguments(name: str) -> None:
    machine = seccomp.MACHINES[name]
    prog = seccomp.program(machine)
    nr, arch = machine.numbers, machine.audit_arch
    allow, deny = seccomp.RET_ALLOW, seccomp.RET_EPERM
    cases = [
        ("prlimit64 on itself", nr["prlimit64"], [0, 7, 1000, 0], allow),
        ("prlimit64 on another pid", nr["prlimit64"], [1234, 7, 1000, 0], deny),
        ("prlimit64 reading another pid", nr["prlimit64"], [1234, 7, 0, 1000], allow),
        ("prlimit64, a limit above 4 GiB", nr["prlimit64"], [1234, 7, 1 << 33, 0], deny),
        ("prlimit64 on pid -1", nr["prlimit64"], [-1, 7, 1000, 0], deny),
        ("setpriority on itself", nr["setpriority"], [0, 0, 10], allow),
        ("setpriority on its group", nr["setpriority"], [1, 0, 10], allow),
        ("setpriority on the user", nr["setpriority"], [2, 0, 10], deny),
        ("setpriority on another pid", nr["setpriority"], [0, 99, 10], deny),
        ("ioprio_set on itself", nr["ioprio_set"], [1, 0, 7], allow),
        ("ioprio_set on the user", nr["ioprio_set"], [3, 0, 7], deny),
        ("sched_setaffinity on itself", nr["sched_setaffinity"], [0, 8, 1000], allow),
        ("sched_setaffinity on a tid", nr["sched_setaffinity"], [4321, 8, 1000], deny),
        ("sched_setattr on another pid", nr["sched_setattr"], [4321, 1000, 0], deny),
        ("move_pages on another pid", nr["move_pages"], [4321, 1, 1000], deny),
        ("socket AF_INET stream", nr["socket"], [2, 1 | 0o2000000, 0], allow),
        ("socket AF_INET udp", nr["socket"], [2, 2 | 0o2000000, 0], deny),
        ("socket AF_UNIX", nr["socket"], [1, 1, 0], deny),
        ("socket AF_NETLINK", nr["socket"], [16, 3, 0], allow),
        ("keyctl", nr["keyctl"], [0, -3, 0], deny),
        ("ioctl TIOCSTI", nr["ioctl"], [0, 0x5412, 1000], deny),
        ("ioctl FIONREAD", nr["ioctl"], [0, 0x541B, 1000], allow),
        ("ptrace", nr["ptrace"], [16, 1234], deny),
        ("an ordinary call (read's number elsewhere)", 63 if name == "aarch64" else 0, [0], allow),
    ]
    wrong = [
        f"{what}: expected {'allow' if want == allow else 'EPERM'}, got {got:#x}"
        for what, number, args, want in cases
        if (got := _run(prog, number, arch, args)) != want
    ]
    assert not wrong, "; ".join(wrong)
    assert _run(prog, 0, 0x40000003, [0]) == deny, "a call through i386's ABI was not refused"
    if name == "x86_64":
        got = _run(prog, X32_BIT | 0, arch, [0])
        assert got == deny, f"a call through the x32 ABI: expected EPERM, got {got:#x}"


def test_an_unknown_machine_gets_no_filter_and_is_told() -> None:
    # In a child of its own: were the filter installed, this process would keep it.
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        platform.machine = lambda: "riscv64"
        told = seccomp.install()
        status = Path("/proc/self/status").read_text().splitlines()
        filtered = any(line.split() == ["Seccomp:", "2"] for line in status)
        os.write(write_end, json.dumps([told, filtered]).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as reply:
        told, filtered = json.loads(reply.read())
    assert told == [], f"install() on an unknown machine said it enforced {told}"
    assert filtered is False, "install() on an unknown machine installed a filter"


HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),  # aarch64 uses the generic table
}


@pytest.mark.parametrize("name", ["x86_64", "aarch64"])
def test_the_filters_numbers_are_the_kernels(name: str) -> None:
    header = HEADERS[name]
    if not header.exists():
        pytest.skip(f"{header} (the kernel's headers) is not installed")
    defined = {}
    for line in header.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "#define" and parts[1].startswith("__NR_"):
            with contextlib.suppress(ValueError):
                defined[parts[1].removeprefix("__NR_")] = int(parts[2])
    wrong = {
        call: (number, defined.get(call))
        for call, number in seccomp.MACHINES[name].numbers.items()
        if defined.get(call) != number
    }
    assert not wrong, f"{name}: the filter's number, then the header's: {wrong}"
