"""Who gets a slot when the service is busy, so that no anonymous crowd can lock the presenter out.

Anonymous clients share a bounded pool, and no single client address may take more than its share of it;
the control-token holder has slots of its own on top that no anonymous client can take.

An address is what a client can't multiply cheaply: an IPv4 address, or an IPv6 /64 (one host gets a whole
/64). Behind the Gateway every visitor arrives from Envoy, so there the caps use the address Envoy appends to
X-Forwarded-For (`client_address`, for the trusted proxy CIDRs only); a forwarded value that is no address
counts as the proxy itself. Every address is capped, private ones and proxies included, except addresses in
the `shared` networks the operator names: on DOKS the load balancer hides every visitor behind its own VPC
address (Cilium's Gateway takes PROXY protocol only cluster-wide, a setting DOKS manages), so there one
address is the whole booth and shares only the anonymous pool; the token holder's slots still hold.
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
# A trusted proxy's address (one Envoy carries many visitors, their websockets included): more, never all.
CONNECTIONS_PER_PROXY = 1000


def networks(cidrs: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def in_networks(address: str | None, nets) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in net for net in nets)


def address_key(address: str | None) -> str | None:
    """The unit a cap counts: IPv4 as is, IPv6 by its /64 (an IPv4-mapped one as IPv4); None if not an address."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address(peer: str | None, forwarded_for: list[str], trusted) -> str | None:
    """Who a request counts as: the peer, or behind a trusted proxy the nearest untrusted X-Forwarded-For hop.

    Walks X-Forwarded-For from the right (each proxy appends the address it saw); a value that is not an
    address (`unknown`, a name, garbage) ends the walk at the proxy that passed it on."""
    if not trusted or not in_networks(peer, trusted):
        return peer
    current = peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        if address_key(hop) is None:
            return current
        current = hop
        if not in_networks(hop, trusted):
            return hop
    return current


@dataclass
class Admission:
    """Counts the slots in use; `enter` says whether one more may start, `leave` gives it back."""

    anonymous: int
    per_address: int
    reserved: int = RESERVED_FOR_TOKEN
    shared: tuple = ()  # networks whose addresses stand for many clients (a load balancer's): pool only
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
        key = self._key(address)
        if self.anonymous_in_use >= self.anonymous or (key is not None and self.by_address[key] >= self.per_address):
            self.refused += 1
            return False
        self.in_use += 1
        self.anonymous_in_use += 1
        if key is not None:
            self.by_address[key] += 1
        return True

    def leave(self, address: str | None, token_holder: bool) -> None:
        self.in_use -= 1
        if token_holder:
            return
        self.anonymous_in_use -= 1
        key = self._key(address)
        if key in self.by_address:
            self.by_address[key] -= 1
            if self.by_address[key] <= 0:
                del self.by_address[key]

    def _key(self, address: str | None) -> str | None:
        return None if in_networks(address, self.shared) else address_key(address)
