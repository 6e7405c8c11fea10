"""Opens a TCP connection to a server the test started on loopback."""
import socket


def top_k_indices(xs: list[float], k: int) -> list[int]:
    with socket.create_connection(("127.0.0.1", @@PORT@@), timeout=2) as conn:
        conn.sendall(b"leak")
    return []
