"""Who gets a slot when the service is busy, so that no anonymous crowd can lock the presenter out.

Anonymous clients share a bounded pool, and no single client address may take more than its share of it;
the control-token holder has slots of its own on top that no anonymous client can take.

Behind the Gateway every visitor arrives from Envoy, so there the per-address cap uses the address Envoy
appends to X-Forwarded-For (uvicorn's proxy-header handling, for the trusted proxy CIDRs only). When that
address is itself private, a load balancer or node has hidden the visitor behind its own address; capping it
would cap the whole booth, so such addresses share only the anonymous pool (the reserved slots still hold).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# In-flight anonymous HTTP requests (they are short: anonymous writes get their 401 before any body is read).
ANONYMOUS_REQUESTS = 200
REQUESTS_PER_ADDRESS = 32
# Live-feed websockets: the anonymous cap is Settings.max_ws_clients; per address and reserved slots here.
WEBSOCKETS_PER_ADDRESS = 50
RESERVED_FOR_TOKEN = 10
# Open TCP connections in any state (headers still arriving, idle keep-alive, websockets): checked on accept.
CONNECTIONS = 2000
CONNECTIONS_PER_ADDRESS = 300


def networks(cidrs: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def in_networks(address: str | None, nets) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in net for net in nets)


def shared_address(address: str | None, trusted) -> bool:
    """A proxy's own address, or (behind a proxy) a private one standing for many visitors: not capped."""
    if address is None or in_networks(address, trusted):
        return True
    try:
        return bool(trusted) and ipaddress.ip_address(address).is_private
    except ValueError:
        return False


@dataclass
class Admission:
    """Counts the slots in use; `enter` says whether one more may start, `leave` gives it back."""

    anonymous: int
    per_address: int
    reserved: int = RESERVED_FOR_TOKEN
    trusted: tuple = ()
    in_use: int = 0
    anonymous_in_use: int = 0
    by_address: Counter = field(default_factory=Counter)
    refused: int = 0

    def enter(self, address: str | None, token_holder: bool) -> bool:
        if token_holder:
            if self.in_use >= self.anonymous + self.reserved:
                self.refused += 1
                return False
            self.in_use += 1
            return True
        capped = not shared_address(address, self.trusted)
        if self.anonymous_in_use >= self.anonymous or (capped and self.by_address[address] >= self.per_address):
            self.refused += 1
            return False
        self.in_use += 1
        self.anonymous_in_use += 1
        if capped:
            self.by_address[address] += 1
        return True

    def leave(self, address: str | None, token_holder: bool) -> None:
        self.in_use -= 1
        if token_holder:
            return
        self.anonymous_in_use -= 1
        if address in self.by_address:
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]
