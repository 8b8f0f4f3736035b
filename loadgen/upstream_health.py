"""Is each frontend reachable? One log line when it starts failing and one when it recovers, a backoff on new
sessions while it is down, and the state the UI shows as a banner.

Without this a down frontend failed ~18 sessions/s silently, and a hung one held every slot until the request
timeout with nothing logged and nothing on screen.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("loadgen.upstream")

# Failures that say the frontend itself is unreachable or broken (a 4xx is our request's fault).
OUTAGE_KINDS = frozenset({"connect", "timeout", "http_5xx"})
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0


@dataclass
class UpstreamHealth:
    """Failure state of one frontend; `admit()` gates new sessions while it is down (one probe per backoff)."""

    router: str
    url: str
    clock: callable = field(default=time.monotonic, repr=False)
    failures: int = 0
    down_since: float | None = None
    last_error: str | None = None
    backoff_s: float = 0.0
    next_probe_at: float = 0.0
    held_back: int = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def record(self, ok: bool, kind: str | None = None, error: str | None = None) -> None:
        """Feed one finished request's outcome."""
        now = self.clock()
        if ok:
            if self.down:
                log.warning("frontend %s (%s) recovered after %d failed requests in %.1fs", self.router, self.url, self.failures, now - self.down_since)
            self.failures, self.down_since, self.backoff_s, self.last_error = 0, None, 0.0, None
            return
        if kind not in OUTAGE_KINDS:
            return
        self.failures += 1
        self.last_error = f"{kind}: {(error or '')[:200]}"
        if not self.down:
            self.down_since = now
            self.backoff_s = BACKOFF_FIRST_S
            log.warning("frontend %s (%s) failing: %s; new sessions back off (one probe at a time, up to %.0fs apart)",
                        self.router, self.url, self.last_error, BACKOFF_MAX_S)
        else:
            self.backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_FIRST_S, self.backoff_s * 2))
        self.next_probe_at = now + self.backoff_s

    def admit(self) -> bool:
        """May a new session start on this frontend now? Always when healthy; one probe per backoff when down."""
        if not self.down:
            return True
        now = self.clock()
        if now >= self.next_probe_at:
            self.next_probe_at = now + max(self.backoff_s, BACKOFF_FIRST_S)
            return True
        self.held_back += 1
        return False

    def state(self, detail: bool = True) -> dict:
        """What status (and the UI banner) shows. Without `detail` (anyone who can open the page: the public
        status and the live feed) no internal URL and no error text, only the kind of failure."""
        state = {
            "reachable": not self.down,
            "downSeconds": None if self.down_since is None else round(self.clock() - self.down_since, 1),
            "failures": self.failures,
            "lastError": self.last_error if detail or self.last_error is None else self.last_error.split(":", 1)[0],
            "heldBack": self.held_back,
        }
        return {"url": self.url, **state} if detail else state
