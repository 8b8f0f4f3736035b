"""The public GETs (conversation list, summary, live numbers), built once per tick for every anonymous viewer.

A visitor's GET used to cost what it asked for: `?limit=5000` was 1.38 MB and 174 ms of one core, and 32
clients looping it cut the booth's own workload from 11.2 to 4.6 requests/s. Now each conversation's JSON is
built once per tick and a list is a join of those bytes (at most PUBLIC_LIMIT of them); a summary or the live
view is built once per tick per distinct question (a bounded table). The token holder and the internal port
read the live store: they are few, and tests and the acceptance need what just happened.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

TICK_S = 1.0
PUBLIC_LIMIT = 100  # conversations per anonymous page (the page asks for 100; ~90 KB at 3 turns); the token holder up to 5000
MEMO_KEYS = 64  # distinct summary questions kept per tick


def dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Row:
    router: str
    status: str
    run: int | None
    workload: str
    json: bytes


class PublicViews:
    """Per-tick memo over the conversation store; `clock` is injectable for tests."""

    def __init__(self, store, summarize: Callable, live: Callable[[], dict], *, tick_s: float = TICK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self._summarize, self._live = store, summarize, live
        self.tick_s, self.clock = tick_s, clock
        self._tick = -1.0
        self._rows: list[_Row] = []
        self._memo: OrderedDict[tuple, bytes] = OrderedDict()
        self.builds = 0  # how many times the rows were rebuilt (tests)

    def _fresh(self) -> None:
        now = self.clock()
        if now - self._tick < self.tick_s:
            return
        self._tick = now
        self._memo.clear()
        self._rows = [_Row(c.router, c.status, c.run, c.workload, dumps(c.summary())) for c in self.store.query()]
        self.builds += 1

    def conversations(self, *, router=None, status=None, run=None, workload=None, offset: int = 0, limit: int = 100) -> bytes:
        self._fresh()
        rows = [r for r in self._rows if (not router or r.router == router) and (not status or r.status == status)
                and (run is None or r.run == run) and (not workload or r.workload == workload)]
        page = rows[offset:offset + min(limit, PUBLIC_LIMIT)]
        head = dumps({"total": len(rows), "offset": offset, "limit": min(limit, PUBLIC_LIMIT)})[:-1]
        return head + b',"conversations":[' + b",".join(r.json for r in page) + b"]}"

    def summary(self, run: int | None, workload: str | None) -> bytes:
        return self._memoised(("summary", run, workload), lambda: {
            "run": run, "workload": workload, **self._summarize(self.store.query(run=run, workload=workload))})

    def live(self) -> bytes:
        return self._memoised(("live",), self._live)

    def _memoised(self, key: tuple, build: Callable[[], dict]) -> bytes:
        self._fresh()
        if key not in self._memo:
            self._memo[key] = dumps(build())
            if len(self._memo) > MEMO_KEYS:
                self._memo.popitem(last=False)
        self._memo.move_to_end(key)
        return self._memo[key]
