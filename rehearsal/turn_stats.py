"""Per-turn statistics over conversation turn records (ours or the load generator's).

A record is a mapping with: conversation, turn, router, ttft_ms, prompt_tokens,
completion_tokens, cached_tokens, error. The "ideal" hit for turn k >= 2 is the
previous turn's prompt, cut to whole KV blocks: that much of the new prompt is
byte-for-byte the old one and was prefilled last turn, so a router that always
returns to the same replica would find it cached. (The previous reply's tokens
are not counted: re-tokenizing streamed text need not give the same blocks.)
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BLOCK_SIZE = 32  # trtllm mocker's KV block size; TensorRT-LLM's default tokens_per_block


@dataclass(frozen=True)
class TurnSummary:
    turn: int
    count: int
    ttft_p50: float
    ttft_p95: float
    ttft_mean: float
    hit_rate: float  # cached / prompt tokens
    ideal_rate: float  # ideal cached / prompt tokens

    @property
    def hit_of_ideal(self) -> float:
        return self.hit_rate / self.ideal_rate if self.ideal_rate else math.nan


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-interpolated percentile (statistics.quantiles, inclusive)."""
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[int(q) - 1] if 1 <= q <= 99 else (min(values) if q <= 0 else max(values))


def ok_records(records: Iterable[Mapping]) -> list[Mapping]:
    return [r for r in records if not r.get("error") and r.get("ttft_ms") is not None]


def ideal_cached(records: Iterable[Mapping], block: int = BLOCK_SIZE) -> dict[tuple, int]:
    """(conversation, turn) -> ideal cached tokens, from the previous turn's prompt."""
    by_conv: dict = defaultdict(dict)
    for r in records:
        by_conv[r["conversation"]][r["turn"]] = r
    ideal = {}
    for conv, turns in by_conv.items():
        for turn, r in turns.items():
            prev = turns.get(turn - 1)
            prev_prompt = prev["prompt_tokens"] if prev else 0
            ideal[(conv, turn)] = min(r["prompt_tokens"], (prev_prompt // block) * block)
    return ideal


def summarize(records: Iterable[Mapping], block: int = BLOCK_SIZE) -> dict[int, TurnSummary]:
    """Turn number -> TurnSummary over the successful records."""
    good = ok_records(records)
    ideal = ideal_cached(good, block)
    by_turn: dict[int, list[Mapping]] = defaultdict(list)
    for r in good:
        by_turn[r["turn"]].append(r)
    out = {}
    for turn, rows in sorted(by_turn.items()):
        ttfts = [float(r["ttft_ms"]) for r in rows]
        prompt = sum(r["prompt_tokens"] for r in rows) or 1
        out[turn] = TurnSummary(
            turn=turn,
            count=len(rows),
            ttft_p50=percentile(ttfts, 50),
            ttft_p95=percentile(ttfts, 95),
            ttft_mean=statistics.fmean(ttfts),
            hit_rate=sum(r.get("cached_tokens") or 0 for r in rows) / prompt,
            ideal_rate=sum(ideal[(r["conversation"], r["turn"])] for r in rows) / prompt,
        )
    return out


def later_turns_hit_of_ideal(records: Iterable[Mapping], block: int = BLOCK_SIZE) -> float:
    """Cached tokens on turns 2+ as a fraction of the ideal cached tokens on turns 2+."""
    good = ok_records(records)
    ideal = ideal_cached(good, block)
    later = [r for r in good if r["turn"] >= 2]
    want = sum(ideal[(r["conversation"], r["turn"])] for r in later)
    got = sum(min(r.get("cached_tokens") or 0, ideal[(r["conversation"], r["turn"])]) for r in later)
    return got / want if want else math.nan


def ttft_values(records: Iterable[Mapping], turns: Iterable[int] | None = None) -> list[float]:
    wanted = None if turns is None else set(turns)
    return [float(r["ttft_ms"]) for r in ok_records(records) if wanted is None or r["turn"] in wanted]
