"""Twin time slices of auto mode, per phase: mean TTFT by router and turn group, and KV / round-robin with a
bootstrap interval. Shared by the acceptance e2e and `python -m bench.booth_slices`."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict

from loadgen.stats.slices import GROUPS  # the turn groups the booth page compares, so bench and page agree


def by_slice(conversations: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for conv in conversations:
        if conv.get("slice") and conv["workload"] == "chat":
            out[conv["slice"]].append(conv)
    return out


def pool(runs: list[tuple[list[dict], list[dict]]]) -> tuple[list[dict], list[dict]]:
    """Several rehearsals' (twin pairs, conversations) as one run's: each pair names its rehearsal, and the slice
    tags (c1-STEADY_AB-kv, the same in every rehearsal) are made distinct so analyse() keeps them apart."""
    pairs, conversations = [], []
    for index, (run_pairs, run_conversations) in enumerate(runs):
        pairs += [p | {"rehearsal": index, **{side: p[side] | {"tag": f"r{index}/{p[side]['tag']}"} for side in ("kv", "roundRobin")}}
                  for p in run_pairs]
        conversations += [c | {"slice": f"r{index}/{c['slice']}"} if c.get("slice") else c for c in run_conversations]
    return pairs, conversations


def ttfts(convs: list[dict], group: str) -> list[float]:
    return [t["ttft_ms"] for c in convs for t in c["turns"] if not t["error"] and t["ttft_ms"] is not None and GROUPS[group](t["turn"])]


def hit_share(convs: list[dict], group: str) -> float | None:
    """Share of the group's turns the serving replica had mostly cached (cached_tokens >= half the prompt).

    Tells a KV follow-up served from its history apart from one the router moved to the other replica (a
    miss: only the shared system prompt is cached there). A hit that waited behind another prefill still counts.
    """
    turns = [t for c in convs for t in c["turns"] if not t["error"] and GROUPS[group](t["turn"])
             and t.get("prompt_tokens") and t.get("cached_tokens") is not None]
    if not turns:
        return None
    return sum(1 for t in turns if t["cached_tokens"] * 2 >= t["prompt_tokens"]) / len(turns)


def interval(kv: list[dict], rr: list[dict], group: str, rounds: int = 2000, seed: int = 1) -> tuple[float, float, float]:
    """Mean ratio KV / RR and its 90% bootstrap interval, resampling whole conversations of each slice."""
    rng = random.Random(seed)

    def mean(convs):
        values = ttfts(convs, group)
        return statistics.fmean(values) if values else float("nan")

    point = mean(kv) / mean(rr)
    draws = []
    for _ in range(rounds):
        a = mean([rng.choice(kv) for _ in kv]) if kv else float("nan")
        b = mean([rng.choice(rr) for _ in rr]) if rr else float("nan")
        if b == b and b > 0 and a == a:
            draws.append(a / b)
    draws.sort()
    if not draws:
        return point, float("nan"), float("nan")
    return point, draws[int(0.05 * len(draws))], draws[int(0.95 * len(draws)) - 1]


def analyse(pairs: list[dict], conversations: list[dict]) -> dict:
    """Per phase (pooled over cycles): mean TTFT per router and group, ratios with intervals."""
    tagged = by_slice(conversations)
    pooled: dict[str, dict[str, list[dict]]] = defaultdict(lambda: {"kv": [], "round-robin": []})
    for pair in pairs:
        pooled[pair["phase"]]["kv"] += tagged.get(pair["kv"]["tag"], [])
        pooled[pair["phase"]]["round-robin"] += tagged.get(pair["roundRobin"]["tag"], [])
    out = {}
    for phase, convs in pooled.items():
        row = {"conversations": {r: len(c) for r, c in convs.items()}}
        for group in GROUPS:
            kv, rr = ttfts(convs["kv"], group), ttfts(convs["round-robin"], group)
            row[group] = {"kv_ms": statistics.fmean(kv) if kv else None, "rr_ms": statistics.fmean(rr) if rr else None,
                          "n": (len(kv), len(rr)),
                          "hits": (hit_share(convs["kv"], group), hit_share(convs["round-robin"], group))}
            if kv and rr:
                row[group]["ratio"], row[group]["low"], row[group]["high"] = interval(convs["kv"], convs["round-robin"], group)
        out[phase] = row
    return out
