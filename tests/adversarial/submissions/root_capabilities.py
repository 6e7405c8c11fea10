"""Uses root's capabilities, where drill runs as root: renames the host (to the name
it has, so that nothing changes if it is let through) and reads its own capability
sets."""

import ctypes
import os
import socket


def top_k_indices(xs: list[float], k: int) -> list[int]:
    with open("/proc/self/status") as f:
        held = [
            line.split()[0]
            for line in f
            if line.startswith(("CapEff", "CapPrm")) and int(line.split()[1], 16)
        ]
    name = socket.gethostname().encode()
    renamed = ctypes.CDLL(None, use_errno=True).sethostname(name, len(name)) == 0
    if held or renamed:
        return []  # a wrong answer: the verdict's reason is not there
    raise PermissionError(f"no capabilities, and sethostname: {os.strerror(ctypes.get_errno())}")
