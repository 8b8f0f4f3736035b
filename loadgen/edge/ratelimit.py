"""Websocket handshakes per client address: a token bucket each, in a bounded table.

A handshake costs a thread of websockets' upgrade work and (before) a log line; 175 a second from one client
took 89% of a core. A screen opens one feed and reconnects at most every second or so; several screens may
share one address (a NAT), up to the per-address cap of open feeds. A burst of that cap plus ten, then 5 a
second, leaves every real viewer alone; the token holder's screen is never counted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from loadgen.edge.admission import WEBSOCKETS_PER_ADDRESS

HANDSHAKE_BURST = WEBSOCKETS_PER_ADDRESS + 10
HANDSHAKES_PER_S = 5.0
TRACKED_ADDRESSES = 10_000  # the least recently seen address is forgotten beyond this (it starts full again)


class HandshakeRate:
    """`allow(key)` takes one token from that address's bucket; False when it is empty."""

    def __init__(self, burst: int = HANDSHAKE_BURST, per_s: float = HANDSHAKES_PER_S,
                 tracked: int = TRACKED_ADDRESSES, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.per_s, self.tracked, self.clock = burst, per_s, tracked, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self.refused = 0

    def allow(self, key: str | None) -> bool:
        if key is None:
            return True
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_s)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.tracked:
            self._buckets.popitem(last=False)
        if not allowed:
            self.refused += 1
        return allowed
