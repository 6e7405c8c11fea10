"""Reaches the zygote (its parent, a process of the same user outside the sandbox)
through calls Landlock does not govern: its resource limits, priority, CPUs and I/O
priority. An audit set RLIMIT_FSIZE=0 on the user's editor this way, and RLIMIT_NOFILE
on sibling grades. Bounded: each call asks for what the parent already has, so a
sandbox that lets one through changes nothing; the answer is then wrong, and the
reason says nothing was refused."""

import ctypes
import os
import resource


def top_k_indices(xs: list[float], k: int) -> list[int]:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    ioprio_set = {"x86_64": 251, "aarch64": 30}.get(os.uname().machine, -1)
    current = resource.prlimit(parent, resource.RLIMIT_NOFILE)  # reading is allowed

    def io_priority() -> None:
        if libc.syscall(ioprio_set, 1, parent, 0) != 0:  # IOPRIO_WHO_PROCESS, class none
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

    calls = {
        "prlimit": lambda: resource.prlimit(parent, resource.RLIMIT_NOFILE, current),
        "setpriority": lambda: os.setpriority(
            os.PRIO_PROCESS, parent, os.getpriority(os.PRIO_PROCESS, parent)
        ),
        "sched_setaffinity": lambda: os.sched_setaffinity(parent, os.sched_getaffinity(parent)),
        "ioprio_set": io_priority,
    }
    refused = []
    for name, call in calls.items():
        try:
            call()
        except PermissionError:
            refused.append(name)
    if len(refused) == len(calls):
        raise PermissionError("refused on the parent: " + ", ".join(refused))
    return []
