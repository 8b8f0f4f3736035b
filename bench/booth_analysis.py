"""What the booth's per-turn records say beyond the means: how sure a ratio is, and why KV's cache hits wait.

Two readings the README's booth numbers rest on:

- `ratio_interval`: a percentile bootstrap over conversations (a conversation's turns stay together,
  as they are not independent) of mean TTFT KV / round-robin. One 4-minute auto-mode run holds ~65
  turn-2 requests per router; the interval says how far another run may land from this one.
- `slow_hit_blockers`: every KV follow-up that found its history cached yet waited (TTFT above
  `slow_ms`), with the uncached prefills that were running on the same replica when it arrived, by
  who sent them. Both frontends share the two replicas (components/dgd.py), and an engine batch runs
  to completion, so a cached turn that lands behind a 7k-token prefill waits for it whichever
  frontend sent that prefill. The KV router sees only its own requests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
import numpy as np

from rehearsal.acceptance import ratios_from_records

Record = dict  # one turn as the load generator exports it (/api/conversations, out/bench/booth.json)


def is_hit(record: Record) -> bool:
    """Most of the prompt came from cache (a follow-up on the replica holding its history)."""
    return (record.get("cached_tokens") or 0) >= 0.5 * (record.get("prompt_tokens") or 1)


def ratio_interval(records: list[Record], key: str, level: float = 0.9, resamples: int = 1000,
                   seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap of one KV/RR ratio of `ratios_from_records` ("turn1", "turn2", "followups"),
    resampling whole conversations."""
    by_conversation: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_conversation[record["conversation_id"]].append(record)
    groups = list(by_conversation.values())
    if not groups:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        picked = rng.integers(0, len(groups), len(groups))
        draws.append(ratios_from_records([r for i in picked for r in groups[i]])[key])
    low, high = np.nanpercentile(draws, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(low), float(high)


def slow_hit_blockers(records: list[Record], slow_ms: float = 90.0) -> tuple[int, int, Counter]:
    """(KV cache hits, of which slow, Counter of the uncached prefills running on their replica on arrival).

    Blocker labels: "<router> opening" (turn 1) or "<router> re-prefill" (a follow-up that missed).
    A slow hit with no such prefill counts as "nothing running".
    """
    uncached = [r for r in records if r.get("ttft_ms") and not is_hit(r)]
    hits = [r for r in records if r["router"] == "kv" and r["turn"] >= 2 and r.get("ttft_ms") and is_hit(r)]
    slow = [r for r in hits if r["ttft_ms"] > slow_ms]
    blockers: Counter = Counter()
    for hit in slow:
        arrived = hit["started_at"]
        running = [p for p in uncached if p is not hit and p.get("worker_id") == hit.get("worker_id")
                   and p["started_at"] < arrived < p["started_at"] + p["ttft_ms"] / 1000]
        blockers.update([f"{'KV' if p['router'] == 'kv' else 'round-robin'} {'opening' if p['turn'] == 1 else 're-prefill'}"
                         for p in running] or ["nothing running"])
    return len(hits), len(slow), blockers


def report(records: list[Record]) -> str:
    """The lines bench.booth prints under its tables."""
    lines = ["### How sure, and why KV's cache hits wait", ""]
    point = ratios_from_records(records)
    for name, key in (("turn 1", "turn1"), ("turn 2", "turn2"), ("turns >= 2", "followups")):
        low, high = ratio_interval(records, key)
        lines.append(f"- {name}: KV/RR {point[key]:.2f}, 90% bootstrap interval over conversations {low:.2f}-{high:.2f}")
    hits, slow, blockers = slow_hit_blockers(records)
    total = sum(blockers.values()) or 1
    shares = ", ".join(f"{label} {count} ({count / total:.0%})" for label, count in blockers.most_common())
    lines.append(f"- KV follow-ups served from cache: {hits}; slower than 90 ms: {slow}; "
                 f"the uncached prefills they waited behind on their replica: {shares or 'none'}")
    return "\n".join(lines)
