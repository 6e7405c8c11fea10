"""Sends a datagram to loopback: UDP is not TCP, and Landlock governs only TCP."""

import socket


def top_k_indices(xs: list[float], k: int) -> list[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"leak", ("127.0.0.1", @@PORT@@))
    return []
