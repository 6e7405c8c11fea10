"""Bytes a process has sent over TCP, from the kernel (sock_diag), not from the process.

The ring kata checks how much each rank sends. A rank's own count could be forged by
the solution running in it, and `/proc/PID/io` misses socket writes made with
`sendmsg`; the kernel's per-connection `tcp_info` (Linux 4.19+) misses nothing. Its
`bytes_sent` counts a retransmitted segment again (a busy machine drops segments even
on loopback), so what counts is `bytes_sent - bytes_retrans`: each byte once. We ask
for every TCP socket on the machine (NETLINK_SOCK_DIAG, the interface `ss` uses), keep
those whose inode is among the process's open files, and add up.

    netlink message: nlmsghdr | inet_diag_req_v2          (request, per address family)
    each reply:      nlmsghdr | inet_diag_msg | rtattr(INET_DIAG_INFO, tcp_info) ...
"""

from __future__ import annotations

import os
import socket
import struct

NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
INET_DIAG_INFO = 2
ALL_STATES = 0xFFFFFFFF

NLMSGHDR = struct.Struct("=IHHII")
# family, protocol, extensions, pad, states, then inet_diag_sockid (48 bytes, zeros: all)
REQUEST = struct.Struct("=BBBxI48x")
DIAG_MSG = struct.Struct("=BBBB48xIIIII")  # ..., expires, rqueue, wqueue, uid, inode
RTATTR = struct.Struct("=HH")
# Offsets in struct tcp_info (linux/tcp.h).
TCP_INFO_BYTES_ACKED, TCP_INFO_BYTES_SENT, TCP_INFO_BYTES_RETRANS = 120, 200, 208


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` has open."""
    found = set()
    fd_dir = f"/proc/{pid}/fd"
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def _dump(family: int) -> dict[int, int]:
    """inode -> bytes sent, for every TCP socket of one address family."""
    sent: dict[int, int] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        body = REQUEST.pack(family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), ALL_STATES)
        header = NLMSGHDR.pack(
            NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
        )
        nl.send(header + body)
        while True:
            data = nl.recv(1 << 16)
            offset = 0
            while offset + NLMSGHDR.size <= len(data):
                length, kind, _flags, _seq, _pid = NLMSGHDR.unpack_from(data, offset)
                if kind == NLMSG_DONE:
                    return sent
                if kind == NLMSG_ERROR or length < NLMSGHDR.size:
                    raise OSError("sock_diag refused the request")
                _parse(data[offset + NLMSGHDR.size : offset + length], sent)
                offset += (length + 3) & ~3


def _parse(message: bytes, sent: dict[int, int]) -> None:
    *_, inode = DIAG_MSG.unpack_from(message)
    offset = DIAG_MSG.size
    while offset + RTATTR.size <= len(message):
        length, kind = RTATTR.unpack_from(message, offset)
        if length < RTATTR.size:
            return
        if kind == INET_DIAG_INFO:
            info = message[offset + RTATTR.size : offset + length]
            if len(info) >= TCP_INFO_BYTES_RETRANS + 8:
                total, again = struct.unpack_from("=QQ", info, TCP_INFO_BYTES_SENT)
                sent[inode] = total - again
            elif len(info) >= TCP_INFO_BYTES_ACKED + 8:  # older kernels: what arrived
                sent[inode] = struct.unpack_from("=Q", info, TCP_INFO_BYTES_ACKED)[0]
        offset += (length + 3) & ~3


def tcp_bytes_sent(pid: int) -> int:
    """Bytes process `pid` has sent on the TCP connections it has open now."""
    inodes = socket_inodes(pid)
    total = 0
    for family in (socket.AF_INET, socket.AF_INET6):
        for inode, count in _dump(family).items():
            if inode in inodes:
                total += count
    return total
