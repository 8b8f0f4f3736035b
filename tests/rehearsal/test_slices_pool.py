"""bench.slices_pool pools booth_slices runs into one figure a phase: two runs' slices merged by their shared tags
would mix twin pairs, and an interval blind to slice-to-slice spread would claim a figure more precise than it is."""

from __future__ import annotations

import json

from bench.slices_pool import pool_runs, slice_clustered
from rehearsal.slice_stats import analyse


def _run(tmp_path, name: str, slices: list[tuple[float, float]], per_slice: int = 30):
    """A booth_slices output of one rehearsal: per cycle (KV turn-2 ms, RR turn-2 ms), STEADY_AB only."""
    pairs, turns = [], []
    for cycle, (kv_ms, rr_ms) in enumerate(slices, start=1):
        pair = {"cycle": cycle, "phase": "STEADY_AB", "rehearsal": 0}
        for router, side, turn2 in (("kv", "kv", kv_ms), ("round-robin", "roundRobin", rr_ms)):
            tag = f"r0/c{cycle}-STEADY_AB-{router}"
            pair[side] = {"tag": tag}
            for i in range(per_slice):
                conversation = f"{name}-{cycle}-{router}-{i}"
                for turn, ttft in ((1, 380.0), (2, turn2 + i % 3)):
                    turns.append({"slice": tag, "conversation": conversation, "turn": turn, "ttft_ms": ttft,
                                  "error": None, "worker": "W1", "cached_tokens": 0, "prompt_tokens": 7000,
                                  "started_at": 0.0, "e2e_ms": 1000.0})
        pairs.append(pair)
    path = tmp_path / name
    path.write_text(json.dumps({"pairs": pairs, "turns": turns}))
    return path


def test_two_runs_with_the_same_slice_tags_are_pooled_pair_by_pair(tmp_path):
    # Both files name their slices r0/c1-STEADY_AB-kv, ...: merged by tag, run b's 100 ms slice would pool with a's 40.
    a = _run(tmp_path, "a.json", [(40, 200), (60, 220)])
    b = _run(tmp_path, "b.json", [(100, 200)])
    pairs, conversations = pool_runs([a, b])
    assert len(pairs) == 3 and len({p["kv"]["tag"] for p in pairs}) == 3
    steady = analyse(pairs, conversations)["STEADY_AB"]
    assert steady["conversations"] == {"kv": 90, "round-robin": 90}
    assert abs(steady["2"]["kv_ms"] - (41 + 61 + 101) / 3) < 0.01


def test_slices_as_clusters_widen_the_interval_when_slices_disagree(tmp_path):
    # KV's slices read 35 or 85 ms, as one-rehearsal runs' pairs did; within a slice the conversations agree.
    path = _run(tmp_path, "a.json", [(35 if k % 2 else 85, 220) for k in range(8)])
    pairs, conversations = pool_runs([path])
    conversation_interval = analyse(pairs, conversations)["STEADY_AB"]["2"]
    clustered = slice_clustered(pairs, conversations, "STEADY_AB", "2")
    assert abs(clustered["ratio"] - conversation_interval["ratio"]) < 0.005
    assert clustered["high"] - clustered["low"] > 1.3 * (conversation_interval["high"] - conversation_interval["low"])
    calm, calm_conversations = pool_runs([_run(tmp_path, "b.json", [(60, 220)] * 8)])
    steady = slice_clustered(calm, calm_conversations, "STEADY_AB", "2")
    assert steady["high"] - steady["low"] < 0.05
