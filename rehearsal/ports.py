"""Port checks done before anything starts, so a taken port fails fast and by name."""

from __future__ import annotations

import random
import socket

from rehearsal.settings import HOST

# Dynamo 1.6.1 reads DYN_SYSTEM_PORT as a signed 16-bit integer ("expected i16 for key SYSTEM_PORT"):
# a worker's system port must be <= 32767, below Linux's ephemeral range, so the OS cannot pick it.
SYSTEM_PORT_RANGE = (20000, 32767)


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


def pick_free_in_range(count: int, low: int, high: int, host: str = HOST, attempts: int = 500) -> list[int]:
    """`count` distinct ports in [low, high] that are free now, tried in random order."""
    chosen: list[int] = []
    rng = random.Random()
    for _ in range(attempts):
        port = rng.randint(low, high)
        if port not in chosen and is_free(port, host):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise PortTaken(f"no {count} free ports in {low}-{high} on {host} after {attempts} tries")


def pick_free_system_ports(count: int, host: str = HOST) -> list[int]:
    """Free ports a Dynamo worker accepts as DYN_SYSTEM_PORT (see SYSTEM_PORT_RANGE)."""
    return pick_free_in_range(count, *SYSTEM_PORT_RANGE, host=host)
