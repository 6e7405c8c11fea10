"""Writes crafted frames onto its channel: a tensor that claims 10^12 elements over four
bytes, a handle to an object that does not exist, then garbage."""

import os
import struct

import msgpack


def _frame(value: object) -> bytes:
    header = msgpack.packb(value)
    return struct.pack("!QI", 4 + len(header) + 8, len(header)) + header + b"\0" * 8


def top_k_indices(xs: list[float], k: int) -> list[int]:
    meta = msgpack.packb(["float32", [10**12], "cpu", False, 0, 4])
    tensor = msgpack.ExtType(1, meta)
    for fd in range(3, 16):
        try:
            os.write(fd, _frame({"ok": tensor}))
            os.write(fd, _frame({"ok": msgpack.ExtType(2, msgpack.packb([999, "object", "x"]))}))
            os.write(fd, b"\xff" * 64)
        except OSError:
            pass
    return []
