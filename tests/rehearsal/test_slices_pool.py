"""bench.slices_pool pools booth_slices runs into one figure a phase: two runs' slices merged by their shared tags
would mix twin pairs, and an interval blind to slice-to-slice spread would claim a figure more precise than it is.
And bench.booth_slices asks only for what auto mode keeps, and keeps what it measured when it overruns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.slices_pool import pool_runs, slice_clustered
from rehearsal.acceptance import AutoRun
from rehearsal.slice_stats import analyse

REPO = Path(__file__).resolve().parents[2]


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


def test_booth_slices_refuses_more_cycles_than_auto_mode_keeps():
    """Auto mode keeps its last 16 twin pairs: a longer run waited an hour for pairs that could never all be there."""
    done = subprocess.run([sys.executable, "-m", "bench.booth_slices", "--cycles", "5"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--cycles 5: auto mode keeps its last 16 twin pairs, 4 cycles" in done.stderr and "bench.slices_pool" in done.stderr


def test_a_benchmark_past_its_limit_keeps_the_pairs_compared_so_far():
    """The acceptance test fails at its limit; a benchmark keeps what it measured (newest first on the wire)."""
    status = {"scenario": {"phase": "STEADY_AB", "slices": [{"tag": "second"}, {"tag": "first"}]}}
    run = AutoRun("http://127.0.0.1:9")
    run.http = httpx.Client(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(lambda _: httpx.Response(200, json=status)))
    assert [s["tag"] for s in run.slices(3, limit_s=0.05, poll_s=0.01, keep_partial=True)] == ["first", "second"]
    with pytest.raises(TimeoutError, match="fewer than 3 twin slices"):
        run.slices(3, limit_s=0.05, poll_s=0.01)
    run.close()
