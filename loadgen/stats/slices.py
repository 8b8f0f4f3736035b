"""What one time slice of auto mode measured, and how a KV slice compares with its round-robin twin.

A slice is one router alone on the replicas for a while, then drained; its twin is the other router with the
same seed (same arrivals, documents and turn counts). The booth compares completed twins, turn by turn, by
mean TTFT: a follow-up's TTFT is bimodal (a cache hit of tens of ms, or a miss that re-prefills the whole
history), so the median flips between the two modes with a few conversations, while the mean weighs the
misses by how often they happen, which is what the audience waits for on average.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SliceResult:
    """One completed slice."""

    tag: str
    cycle: int
    phase: str
    router: str
    seed: int
    started_at: float  # unix seconds
    ended_at: float
    conversations: int
    requests: int
    errors: int
    cancelled: int  # sessions still running when the drain deadline passed
    ttft_ms: dict[str, float | None]  # "1", "2", "2+" -> mean TTFT (ms), None without samples
    samples: dict[str, int]
    # Per chat conversation, its timed turns as (turn, TTFT ms): what loadgen.stats.slice_pool pools over the cycles.
    turn_ttfts: tuple[tuple[tuple[int, float], ...], ...] = ()

    def as_dict(self) -> dict:
        return {"tag": self.tag, "cycle": self.cycle, "phase": self.phase, "router": self.router,
                "startedAt": self.started_at, "endedAt": self.ended_at, "conversations": self.conversations,
                "requests": self.requests, "errors": self.errors, "cancelled": self.cancelled,
                "ttftMeanMs": self.ttft_ms, "samples": self.samples}


GROUPS = {"1": lambda turn: turn == 1, "2": lambda turn: turn == 2, "2+": lambda turn: turn >= 2}


def summarize(conversations: Iterable, *, tag: str, cycle: int, phase: str, router: str, seed: int,
              started_at: float, ended_at: float, cancelled: int) -> SliceResult:
    """Mean TTFT per turn group over the slice's chat conversations (turns that failed are counted, not timed)."""
    convs = [c for c in conversations if c.slice == tag and c.workload == "chat"]
    turns = [t for c in convs for t in c.turns]
    timed = [t for t in turns if t.error is None and t.ttft_ms is not None]
    ttft: dict[str, float | None] = {}
    samples: dict[str, int] = {}
    for group, wanted in GROUPS.items():
        values = [t.ttft_ms for t in timed if wanted(t.turn)]
        ttft[group] = round(statistics.fmean(values), 1) if values else None
        samples[group] = len(values)
    per_conversation = tuple(tuple((t.turn, t.ttft_ms) for t in c.turns if t.error is None and t.ttft_ms is not None)
                             for c in convs)
    return SliceResult(tag=tag, cycle=cycle, phase=phase, router=router, seed=seed, started_at=started_at,
                       ended_at=ended_at, conversations=len(convs), requests=len(turns),
                       errors=sum(1 for t in turns if t.error is not None), cancelled=cancelled,
                       ttft_ms=ttft, samples=samples, turn_ttfts=per_conversation)


def compare(kv: SliceResult, rr: SliceResult) -> dict:
    """KV / round-robin mean TTFT per turn group for two twin slices (None where either lacks samples)."""
    ratio = {}
    for group in GROUPS:
        a, b = kv.ttft_ms.get(group), rr.ttft_ms.get(group)
        ratio[group] = round(a / b, 3) if a is not None and b else None
    return {"cycle": kv.cycle, "phase": kv.phase, "kv": kv.as_dict(), "roundRobin": rr.as_dict(), "ratio": ratio}
