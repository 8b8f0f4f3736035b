"""bench.aiperf_pool pools AIPerf runs into the held-out figure: a replayed round counted twice would narrow the
interval on data that is not new, and an interval blind to round-to-round spread would claim agreement too soon."""

from __future__ import annotations

import json

from bench.aiperf_pool import pool_runs, round_clustered
from rehearsal.slice_stats import interval


def _conversation(seed: int, index: int, turn2_ms: float) -> dict:
    turns = [{"turn": 1, "ttft_ms": 380.0, "error": None}, {"turn": 2, "ttft_ms": turn2_ms, "error": None}]
    return {"id": f"s{seed}-{index}", "workload": "chat", "turns": turns}


def _run(tmp_path, name: str, rounds: dict[int, tuple[float, float]], per_round: int = 24):
    """A run file: {seed: (KV turn-2 ms, RR turn-2 ms)}, the round-robin round on seed + 1."""
    runs = {"kv": [], "round-robin": []}
    for seed, (kv_ms, rr_ms) in rounds.items():
        runs["kv"] += [_conversation(seed, i, kv_ms + i % 3) for i in range(per_round)]
        runs["round-robin"] += [_conversation(seed + 1, i, rr_ms + i % 3) for i in range(per_round)]
    path = tmp_path / name
    path.write_text(json.dumps({"runs": runs}))
    return path


def test_a_round_seen_in_an_earlier_run_is_pooled_once_and_named(tmp_path):
    first = _run(tmp_path, "a.json", {1000: (40, 200), 1010: (60, 220)})
    again = _run(tmp_path, "b.json", {1010: (60, 220), 2000: (50, 210)})  # started from the same --seed-base
    rounds, repeated = pool_runs([first, again])
    assert sorted(rounds["kv"]) == ["s1000", "s1010", "s2000"]
    assert sorted(rounds["round-robin"]) == ["s1001", "s1011", "s2001"]
    assert sorted(repeated) == ["s1010", "s1011"]
    assert sum(len(c) for c in rounds["kv"].values()) == 3 * 24


def test_rounds_as_clusters_widen_the_interval_when_rounds_disagree(tmp_path):
    # KV's rounds read 35 or 85 ms (as one real run's did); each round's conversations agree with each other.
    path = _run(tmp_path, "a.json", {1000 + 10 * k: (35 if k % 2 else 85, 220) for k in range(8)})
    rounds, _ = pool_runs([path])
    kv, rr = ([c for cs in rounds[r].values() for c in cs] for r in ("kv", "round-robin"))
    ratio, low, high = interval(kv, rr, "2")
    clustered = round_clustered(rounds, "2")
    assert abs(clustered["ratio"] - ratio) < 0.005
    assert clustered["high"] - clustered["low"] > 1.3 * (high - low)
    # Rounds that agree: the two intervals are alike (the clustered one is not wide by construction).
    calm, _ = pool_runs([_run(tmp_path, "b.json", {3000 + 10 * k: (60, 220) for k in range(8)})])
    assert round_clustered(calm, "2")["high"] - round_clustered(calm, "2")["low"] < 0.05
