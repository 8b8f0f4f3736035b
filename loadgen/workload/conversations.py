"""Conversation and per-turn records kept for the viewer and the API, with a cap on finished ones."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from loadgen.upstream.client import TurnResult

KEPT_MESSAGE_CHARS = 2000


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class TurnRecord:
    """One request of a session, as the API reports it (milliseconds)."""

    conversation_id: str
    turn: int
    router: str
    workload: str
    started_at: float
    ttft_ms: float | None
    itl_ms: float | None
    e2e_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None
    error: str | None
    error_kind: str | None
    question_source: str
    worker: str | None = None  # serving replica, short name (W1, W2, ... in order of first appearance)
    worker_id: str | None = None  # Dynamo's 64-bit worker id, as text (JSON clients lose precision on it)
    server_ttft_ms: float | None = None
    prefill_ms: float | None = None
    kv_hit_rate: float | None = None

    @classmethod
    def from_result(
        cls, *, conversation_id: str, turn: int, router: str, workload: str, started_at: float, result: TurnResult, question_source: str
    ) -> TurnRecord:
        return cls(
            conversation_id=conversation_id,
            turn=turn,
            router=router,
            workload=workload,
            started_at=started_at,
            ttft_ms=_ms(result.ttft_s),
            itl_ms=_ms(result.itl_s),
            e2e_ms=_ms(result.e2e_s),
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cached_tokens=result.cached_tokens,
            error=result.error,
            error_kind=result.error_kind,
            question_source=question_source,
            worker_id=None if result.worker_id is None else str(result.worker_id),
            server_ttft_ms=_round(result.server_ttft_ms),
            prefill_ms=_round(result.prefill_ms),
            kv_hit_rate=_round(result.kv_hit_rate, 4),
        )


@dataclass
class Conversation:
    """A session: a multi-turn chat, or a single summarisation/reasoning request."""

    id: str
    run: int
    workload: str
    router: str
    planned_turns: int
    source: str
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    status: str = "active"
    turns: list[TurnRecord] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    client: Any = field(default=None, repr=False, compare=False)  # HTTP client shard used for every turn
    plan: Any = field(default=None, repr=False, compare=False)  # the ChatPlan it replays (dropped when it ends)
    slice: str | None = None  # auto mode's time slice it ran in (loadgen.workload.scenario), e.g. "c1-STEADY_AB-kv"

    def finish(self, status: str) -> None:
        """Mark done and shrink long message texts so kept history stays small."""
        self.status = status
        self.finished_at = time.time()
        self.client = None
        self.plan = None
        for message in self.messages:
            text = message["content"]
            if len(text) > KEPT_MESSAGE_CHARS:
                message["content"] = text[:KEPT_MESSAGE_CHARS] + f"\n[... {len(text) - KEPT_MESSAGE_CHARS} more characters not kept]"

    def summary(self) -> dict:
        """Everything but message texts."""
        return {
            "id": self.id,
            "run": self.run,
            "workload": self.workload,
            "router": self.router,
            "status": self.status,
            "source": self.source,
            "planned_turns": self.planned_turns,
            "completed_turns": sum(1 for t in self.turns if t.error is None),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "slice": self.slice,
            "turns": [asdict(t) for t in self.turns],
        }

    def detail(self) -> dict:
        return {**self.summary(), "messages": list(self.messages)}


class ConversationStore:
    """Active sessions plus the newest `max_kept` finished ones, oldest evicted first."""

    def __init__(self, max_kept: int) -> None:
        self.max_kept = max_kept
        self._items: OrderedDict[str, Conversation] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()

    def add(self, conversation: Conversation) -> None:
        self._items[conversation.id] = conversation

    def finished(self, conversation: Conversation) -> None:
        """Record that a session ended; evict beyond the cap."""
        self._finished[conversation.id] = None
        while len(self._finished) > self.max_kept:
            old_id, _ = self._finished.popitem(last=False)
            self._items.pop(old_id, None)

    def get(self, conversation_id: str) -> Conversation | None:
        return self._items.get(conversation_id)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget finished sessions (active ones keep running and stay listed)."""
        for conversation_id in list(self._finished):
            self._items.pop(conversation_id, None)
        self._finished.clear()

    def query(self, *, router: str | None = None, status: str | None = None, run: int | None = None, workload: str | None = None) -> list[Conversation]:
        """Newest first, filtered."""
        out = []
        for conv in reversed(self._items.values()):
            if router and conv.router != router:
                continue
            if status and conv.status != status:
                continue
            if run is not None and conv.run != run:
                continue
            if workload and conv.workload != workload:
                continue
            out.append(conv)
        return out
