"""Rolling window of recent turn results behind the live UI numbers, plus whole-history aggregates for /api/summary."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from loadgen.workload.conversations import Conversation
from loadgen.metrics import turn_label

ROUTER_LABELS = ("kv", "round-robin")
TURN_LABELS = ("1", "2", "3", "4", "5")
RATE_WINDOW_S = 10.0
MAP_ROWS = 10  # conversations per router in the routing map
MAP_TURNS = 5


@dataclass(slots=True)
class Sample:
    t: float
    workload: str
    router: str
    turn: str
    ok: bool
    ttft_ms: float | None
    itl_ms: float | None
    cached: int | None
    prompt: int | None
    conversation: str = ""
    turn_no: int = 0
    worker: str | None = None
    server_ttft_ms: float | None = None


def _p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def _turn_ttfts(samples: list[Sample], turn: str) -> list[float]:
    return [s.ttft_ms for s in samples if s.turn == turn and s.ttft_ms is not None]


class LiveStats:
    """Recent samples (bounded by age and count) for once-a-second UI snapshots."""

    def __init__(self, window_s: float = 60.0, max_samples: int = 20_000) -> None:
        self.window_s = window_s
        self._samples: deque[Sample] = deque(maxlen=max_samples)

    def add(self, sample: Sample) -> None:
        self._samples.append(sample)

    def clear(self) -> None:
        self._samples.clear()

    def __len__(self) -> int:
        return len(self._samples)

    def snapshot(self, now: float | None = None) -> dict:
        """Per router: request rate over the last 10 s, chat TTFT mean and p50 by turn, ITL p50, errors, cache hit share.

        The chart shows the mean by turn: with two replicas round-robin reuses the cache by chance about
        half the time, so its turn-2 median can look cached while the mean still shows every miss.
        """
        now = time.monotonic() if now is None else now
        while self._samples and self._samples[0].t < now - self.window_s:
            self._samples.popleft()
        out = {}
        for router in ROUTER_LABELS:
            mine = [s for s in self._samples if s.router == router]
            ok = [s for s in mine if s.ok]
            chat = [s for s in ok if s.workload == "chat"]
            recent = sum(1 for s in mine if s.t >= now - RATE_WINDOW_S)
            cached = [s for s in ok if s.cached is not None and s.prompt]
            out[router] = {
                "requestRate": round(recent / RATE_WINDOW_S, 3),
                "requests": len(mine),
                "errors": len(mine) - len(ok),
                "ttftMeanByTurn": {t: _mean(_turn_ttfts(chat, t)) for t in TURN_LABELS},
                "ttftP50ByTurn": {t: _p50(_turn_ttfts(chat, t)) for t in TURN_LABELS},
                "ttftP50": _p50([s.ttft_ms for s in ok if s.ttft_ms is not None]),
                "itlP50": _p50([s.itl_ms for s in ok if s.itl_ms is not None]),
                "cachedShare": round(sum(s.cached for s in cached) / sum(s.prompt for s in cached), 4) if cached else None,
            }
        return {"windowSeconds": self.window_s, "routers": out, "headline": headline(list(self._samples)), "routingMap": routing_map(list(self._samples))}


def headline(samples: list[Sample]) -> dict:
    """The booth's headline over the live window: follow-up TTFT KV vs round-robin, and prompt tokens served from cache.

    Means, not medians: with two replicas round-robin finds the cache about half the time on turn 2,
    so its median can look cached while the mean carries every miss the audience waits for.
    """
    chat = [s for s in samples if s.ok and s.workload == "chat" and s.ttft_ms is not None]

    def mean(router: str, pick) -> float | None:
        return _mean([s.ttft_ms for s in chat if s.router == router and pick(s)])

    def drop(kv: float | None, rr: float | None) -> float | None:
        return round(1 - kv / rr, 4) if kv is not None and rr else None

    follow_kv, follow_rr = mean("kv", lambda s: s.turn != "1"), mean("round-robin", lambda s: s.turn != "1")
    t2_kv, t2_rr = mean("kv", lambda s: s.turn == "2"), mean("round-robin", lambda s: s.turn == "2")
    t1_kv, t1_rr = mean("kv", lambda s: s.turn == "1"), mean("round-robin", lambda s: s.turn == "1")
    cached = {r: sum(s.cached or 0 for s in samples if s.ok and s.router == r) for r in ROUTER_LABELS}
    prompt = {r: sum(s.prompt or 0 for s in samples if s.ok and s.router == r) for r in ROUTER_LABELS}
    return {
        "followupTtftMs": {"kv": follow_kv, "round-robin": follow_rr},
        "followupTtftDrop": drop(follow_kv, follow_rr),
        "turn2TtftMs": {"kv": t2_kv, "round-robin": t2_rr},
        "turn2TtftDrop": drop(t2_kv, t2_rr),
        "turn1TtftMs": {"kv": t1_kv, "round-robin": t1_rr},
        "followupSamples": {r: sum(1 for s in chat if s.router == r and s.turn != "1") for r in ROUTER_LABELS},
        "cachedTokens": cached,
        "promptTokens": prompt,
    }


def routing_map(samples: list[Sample]) -> dict:
    """Per router, the newest conversations with a first turn in the window: each turn's serving worker.

    KV rows should stay one colour (each follow-up goes back to the replica holding its history);
    round-robin rows hop between replicas.
    """
    out: dict[str, list[dict]] = {}
    for router in ROUTER_LABELS:
        rows: dict[str, dict] = {}
        for s in samples:
            if s.router != router or s.workload != "chat" or not s.conversation:
                continue
            if s.turn_no == 1:
                rows[s.conversation] = {"id": s.conversation, "turns": []}
            row = rows.get(s.conversation)
            if row is not None and len(row["turns"]) < MAP_TURNS:
                row["turns"].append({"turn": s.turn_no, "worker": s.worker, "ok": s.ok, "ttftMs": s.ttft_ms, "cached": s.cached, "prompt": s.prompt})
        out[router] = list(rows.values())[-MAP_ROWS:][::-1]
    return out


def summarize(conversations: Iterable[Conversation]) -> dict:
    """Per router, per turn aggregates over the given (kept) sessions."""
    buckets: dict[str, dict[str, list]] = {}
    for conv in conversations:
        for rec in conv.turns:
            buckets.setdefault(rec.router, {}).setdefault(turn_label(rec.turn), []).append(rec)
    routers = {}
    for router, by_turn in sorted(buckets.items()):
        turns = {}
        for label, recs in sorted(by_turn.items()):
            ok = [r for r in recs if r.error is None]
            cached = [r.cached_tokens for r in ok if r.cached_tokens is not None]
            turns[label] = {
                "count": len(recs),
                "errors": len(recs) - len(ok),
                "ttft_ms_p50": _p50([r.ttft_ms for r in ok if r.ttft_ms is not None]),
                "ttft_ms_mean": _mean([r.ttft_ms for r in ok if r.ttft_ms is not None]),
                "itl_ms_mean": _mean([r.itl_ms for r in ok if r.itl_ms is not None]),
                "e2e_ms_mean": _mean([r.e2e_ms for r in ok if r.e2e_ms is not None]),
                "prompt_tokens_mean": _mean([r.prompt_tokens for r in ok if r.prompt_tokens is not None]),
                "cached_tokens_mean": _mean(cached),
                "cached_reported": len(cached),
            }
        routers[router] = {"turns": turns}
    return {"routers": routers}
