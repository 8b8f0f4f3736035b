"""Port checks done before anything starts, so a taken port fails fast and by name."""

from __future__ import annotations

import socket

from rehearsal.settings import HOST


class PortTaken(RuntimeError):
    """A port the rehearsal needs is already bound by another process."""


def is_free(port: int, host: str = HOST) -> bool:
    """True if we could listen on host:port now (TIME_WAIT leftovers do not count as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def require_free(ports: dict[str, int], host: str = HOST) -> None:
    """Raise PortTaken naming every role whose port is in use."""
    taken = [f"{role} port {port}" for role, port in ports.items() if not is_free(port, host)]
    if taken:
        raise PortTaken(f"already in use on {host}: " + ", ".join(taken))


def pick_free(count: int, host: str = HOST) -> list[int]:
    """Ask the OS for `count` distinct free ports (for tests and internal plumbing)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()
