"""The booth's one number source: completed twin slices, pooled over the cycles so far.

Every figure the page shows as a result (the headline, the TTFT-by-turn chart, the pooled row of the slice
table) comes from here. A twin pair is KV and round-robin each alone on the replicas with the same arrivals,
documents and turn counts, so pooling every completed pair keeps the comparison fair while the phases
change. Per turn (1-5, 5 holding later turns) and for all follow-ups (2+): each router's mean TTFT, the
requests behind it, KV / round-robin and its 90% interval. A figure with fewer than MIN_REQUESTS requests
on either side is marked `enough: false`, and the page says so instead of drawing it as a result.

The interval is the delta method for a ratio of means with conversations as clusters (a conversation's
turns share one replica's cache, so they are not independent): var(mean) = sum_c (s_c - mean * n_c)^2 / N^2
over conversations c with n_c timed turns summing to s_c, and log(KV/RR) gets var(a)/a^2 + var(b)/b^2. It is
O(conversations), so it can run on every completed pair; tests/loadgen/test_loadgen_slice_pool.py checks it
against the whole-conversation bootstrap the rehearsal's acceptance report uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

MIN_REQUESTS = 20
Z90 = 1.6449  # two-sided 90%
# What the page shows: the chart's turns ('5' holds turns 5 and later, as the live chart does) and follow-ups.
GROUPS: dict[str, Callable[[int], bool]] = {
    "1": lambda t: t == 1, "2": lambda t: t == 2, "3": lambda t: t == 3, "4": lambda t: t == 4,
    "5": lambda t: t >= 5, "2+": lambda t: t >= 2,
}
# One slice's chat conversations: for each, its timed turns as (turn number, TTFT ms).
Conversations = Sequence[Sequence[tuple[int, float]]]


def _clusters(slices: Iterable[Conversations], wanted: Callable[[int], bool]) -> list[tuple[int, float]]:
    """(timed turns, their TTFT sum) per conversation with at least one turn of the group."""
    out = []
    for conversations in slices:
        for turns in conversations:
            values = [ms for turn, ms in turns if wanted(turn)]
            if values:
                out.append((len(values), math.fsum(values)))
    return out


def _mean_and_variance(clusters: list[tuple[int, float]]) -> tuple[float, float, int]:
    n = sum(count for count, _ in clusters)
    mean = math.fsum(total for _, total in clusters) / n
    variance = math.fsum((total - mean * count) ** 2 for count, total in clusters) / (n * n)
    return mean, variance, n


def compare_group(kv: list[tuple[int, float]], rr: list[tuple[int, float]]) -> dict:
    """Means, requests, ratio and its 90% interval for one turn group (None where a side has no requests)."""
    row: dict = {"kvMs": None, "rrMs": None, "kvRequests": 0, "rrRequests": 0, "ratio": None, "low": None, "high": None}
    if kv:
        row["kvMs"], kv_var, row["kvRequests"] = _mean_and_variance(kv)
    if rr:
        row["rrMs"], rr_var, row["rrRequests"] = _mean_and_variance(rr)
    row["enough"] = min(row["kvRequests"], row["rrRequests"]) >= MIN_REQUESTS
    if kv and rr and row["kvMs"] > 0 and row["rrMs"] > 0:
        ratio = row["kvMs"] / row["rrMs"]
        spread = Z90 * math.sqrt(kv_var / row["kvMs"] ** 2 + rr_var / row["rrMs"] ** 2)
        row.update(ratio=round(ratio, 3), low=round(ratio * math.exp(-spread), 3), high=round(ratio * math.exp(spread), 3))
    for key in ("kvMs", "rrMs"):
        row[key] = None if row[key] is None else round(row[key], 1)
    return row


def pool(pairs: Sequence[tuple[Conversations, Conversations]]) -> dict:
    """Every completed twin pair so far, pooled: {"pairs": n, "minRequests": MIN_REQUESTS, "groups": {...}}."""
    groups = {key: compare_group(_clusters((kv for kv, _ in pairs), wanted), _clusters((rr for _, rr in pairs), wanted))
              for key, wanted in GROUPS.items()}
    return {"pairs": len(pairs), "minRequests": MIN_REQUESTS, "groups": groups}
