"""Is each frontend reachable? One log line when it starts failing and one when it recovers, a backoff on new
sessions while it is down, and the state the UI shows as a banner.

Without this a down frontend failed ~18 sessions/s silently, and a hung one held every slot until the request
timeout with nothing logged and nothing on screen. A frozen frontend (it accepts requests and never sends a
first token) used to show only when the first-token deadline (60 s) failed a request; now the oldest request
still waiting for its first token shows as `stalledSeconds` once it has waited STALL_AFTER_S, so the page says
so within a few seconds.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("loadgen.upstream.client")

# Failures that say the frontend itself is unreachable or broken (a 4xx is our request's fault).
OUTAGE_KINDS = frozenset({"connect", "timeout", "http_5xx"})
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
# A first token later than this is a stall, not load: the booth's turn-1 TTFT is ~0.4 s on the GPUs and a
# few seconds at saturation (../shared/calibration); the page shows it at the next tick (1 s).
STALL_AFTER_S = 5.0


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
    waiting: dict = field(default_factory=dict, repr=False)  # ticket -> when the request started (no first token yet)
    _tickets: int = field(default=0, repr=False)

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

    def begin(self) -> int:
        """A request starts; its ticket is ended by first_token() or end()."""
        self._tickets += 1
        self.waiting[self._tickets] = self.clock()
        return self._tickets

    def first_token(self, ticket: int) -> None:
        self.waiting.pop(ticket, None)

    end = first_token

    @property
    def stalled_s(self) -> float | None:
        """How long the oldest request has waited for its first token, once that is over STALL_AFTER_S."""
        if not self.waiting:
            return None
        waited = self.clock() - min(self.waiting.values())
        return round(waited, 1) if waited >= STALL_AFTER_S else None

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
            "stalledSeconds": self.stalled_s,
        }
        return {"url": self.url, **state} if detail else state
