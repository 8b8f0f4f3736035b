"""Per-request completion events for WebSocket clients (the booth page and external benchmark scripts).

Besides the once-a-second snapshot, the broadcaster (loadgen.edge.feed) sends every finished request as
one `{"type": "turn", ...}` message with the conversation, turn, router, serving worker, client TTFT/ITL,
server-side timing and cached tokens. The log kept here is bounded (newest `maxlen`), for status and tests.
"""

from __future__ import annotations

import time
from collections import deque

from loadgen.workload.conversations import Conversation, TurnRecord


def turn_event(seq: int, rec: TurnRecord, conv: Conversation) -> dict:
    return {
        "type": "turn",
        "seq": seq,
        "t": round(time.time(), 3),
        "conversationId": rec.conversation_id,
        "turn": rec.turn,
        "plannedTurns": conv.planned_turns,
        "router": rec.router,
        "workload": rec.workload,
        "worker": rec.worker,
        "workerId": rec.worker_id,
        "ok": rec.error is None,
        "errorKind": rec.error_kind,
        "ttftMs": rec.ttft_ms,
        "itlMs": rec.itl_ms,
        "e2eMs": rec.e2e_ms,
        "promptTokens": rec.prompt_tokens,
        "cachedTokens": rec.cached_tokens,
        "completionTokens": rec.completion_tokens,
        "serverTtftMs": rec.server_ttft_ms,
        "prefillMs": rec.prefill_ms,
        "kvHitRate": rec.kv_hit_rate,
    }


class TurnFeed:
    """Bounded, sequence-numbered log of turn events; each client reads what is newer than its last seq."""

    def __init__(self, maxlen: int = 2000) -> None:
        self._events: deque[dict] = deque(maxlen=maxlen)
        self.seq = 0

    def add(self, rec: TurnRecord, conv: Conversation) -> dict:
        self.seq += 1
        event = turn_event(self.seq, rec, conv)
        self._events.append(event)
        return event

    def since(self, seq: int) -> list[dict]:
        """Events with a sequence number above `seq` (a client that fell behind skips what was dropped)."""
        if not self._events or self._events[-1]["seq"] <= seq:
            return []
        return [e for e in self._events if e["seq"] > seq]

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        self._events.clear()
