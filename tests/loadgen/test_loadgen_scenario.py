"""Auto mode: the booth's 4-phase story (warm-up, steady A/B, high load, cool-down) with captions, countdown and cycle
count; by default as time slices (one router at a time on the replicas), side by side on request."""

from __future__ import annotations

import pytest
from loadgen_testkit import wait_for

import time
from collections import defaultdict

from loadgen.workload.scenario import PHASES


def test_phase_table_tells_the_story_in_the_first_four_minutes():
    assert [(p.name, p.duration_s, p.rps, p.max_concurrency) for p in PHASES] == [
        ("WARM_UP", 60, 1.0, 8),
        ("STEADY_AB", 120, 1.5, 12),
        ("HIGH_LOAD", 90, 3.0, 24),
        ("COOL_DOWN", 60, 0.5, 4),
    ]
    assert sum(p.duration_s for p in PHASES[:2]) < 240 < sum(p.duration_s for p in PHASES[:3])  # the acceptance window reaches high load
    for p in PHASES:
        assert 40 <= len(p.description) <= 120, p.name  # one line on the booth screen


@pytest.fixture
def auto_lg(make_stub, make_loadgen):
    kv, rr = make_stub(ttft_ms=5), make_stub(ttft_ms=5, prefix_cache=False)
    return make_loadgen(kv.url, rr.url, scenario_speedup=60)  # cycle of 5.5 s instead of 5.5 min


QUICK = {"thinkTimeMs": {"min": 0, "max": 5}, "turns": {"min": 3, "max": 3}, "maxTokens": 8}


def test_side_by_side_auto_mode_cycles_phases_with_countdown_and_cycle_count(auto_lg):
    lg = auto_lg
    status = lg.post("/api/scenario/auto?comparison=side-by-side").json()
    sc = status["scenario"]
    assert sc["mode"] == "auto" and sc["comparison"] == "side-by-side" and sc["phase"] == "WARM_UP" and sc["cycle"] == 1
    assert "turn 1" in sc["description"] and sc["live"]["router"] is None
    assert 0 < sc["countdown"] <= 1
    assert status["running"] and status["config"]["totalRPS"] == 1.0 and status["config"]["maxConcurrency"] == 8
    assert status["config"]["mix"] == {"a": 1.0, "b": 0.0, "c": 0.0} and status["config"]["router"] == "ab"
    seen = {}
    for phase in ("STEADY_AB", "HIGH_LOAD", "COOL_DOWN"):
        seen[phase] = wait_for(lambda p=phase: (s := lg.status())["scenario"]["phase"] == p and s, timeout_s=20, interval_s=0.02, what=phase)
    assert (seen["STEADY_AB"]["config"]["totalRPS"], seen["STEADY_AB"]["config"]["maxConcurrency"]) == (1.5, 12)
    assert (seen["HIGH_LOAD"]["config"]["totalRPS"], seen["HIGH_LOAD"]["config"]["maxConcurrency"]) == (3.0, 24)
    assert (seen["COOL_DOWN"]["config"]["totalRPS"], seen["COOL_DOWN"]["config"]["maxConcurrency"]) == (0.5, 4)
    assert all(s["config"]["router"] == "ab" for s in seen.values())
    again = wait_for(lambda: (s := lg.status())["scenario"]["cycle"] == 2 and s, timeout_s=20, interval_s=0.02, what="cycle 2")
    assert again["scenario"]["phase"] in ("WARM_UP", "STEADY_AB")
    assert "loadgen_scenario_phase" in lg.metrics()
    stopped = lg.post("/api/scenario/stop").json()
    assert stopped["scenario"]["phase"] == "IDLE" and stopped["scenario"]["mode"] == "manual"
    assert stopped["running"] is False


def test_time_slices_give_the_replicas_to_one_router_at_a_time_on_the_same_conversations(make_stub, make_loadgen):
    """Issue 21: auto mode's default is the comparison a user choosing a router would see."""
    kv, rr = make_stub(ttft_ms=5, prefill_ms_per_1k=20), make_stub(ttft_ms=5, prefill_ms_per_1k=20, prefix_cache=False)
    lg = make_loadgen(kv.url, rr.url, scenario_speedup=15)  # seed 7 (the testkit's): the same slice seeds every run
    lg.post("/api/workload/config", {**QUICK, "turns": {"min": 2, "max": 2}})
    status = lg.post("/api/scenario/auto").json()
    assert status["scenario"]["comparison"] == "sliced" and status["scenario"]["live"]["router"] == "kv"
    overlap, routers_seen, started = [], [], time.monotonic()
    while time.monotonic() - started < 90:
        s = lg.status()
        inflight = s["counters"]["activeByRouter"]
        if inflight["kv"] and inflight["round-robin"]:
            overlap.append(inflight)
        live = s["scenario"]["live"]
        if live and (not routers_seen or routers_seen[-1] != live["router"]):
            routers_seen.append(live["router"])
        if len(s["scenario"]["slices"]) >= 4:  # all four phases of cycle 1 compared
            break
        time.sleep(0.02)
    final = lg.post("/api/scenario/stop").json()
    assert not overlap, f"both routers had sessions at once: {overlap[:3]}"
    assert routers_seen[:4] == ["kv", "round-robin", "kv", "round-robin"], routers_seen
    pairs = final["scenario"]["slices"]
    assert [p["phase"] for p in reversed(pairs)][:4] == [p.name for p in PHASES]
    convs = lg.conversations(limit=1000)["conversations"]
    by_slice = defaultdict(list)
    for conv in convs:
        assert conv["slice"] and conv["slice"].endswith("-" + conv["router"]), conv["slice"]
        by_slice[conv["slice"]].append(conv)
    for pair in pairs:
        kv_slice, rr_slice = pair["kv"]["tag"], pair["roundRobin"]["tag"]
        # Same seed: the same documents in the same order (each salted by its own conversation id).
        order = lambda tag: [c["source"] for c in sorted(by_slice[tag], key=lambda c: c["started_at"])]  # noqa: E731
        assert order(kv_slice) == order(rr_slice), pair["phase"]
        # A conversation's turns stay within its slice: the twin starts after the last turn of this one.
        first, second = sorted((kv_slice, rr_slice), key=lambda tag: min(c["started_at"] for c in by_slice[tag]))
        last_turn = max(t["started_at"] for c in by_slice[first] for t in c["turns"])
        assert last_turn < min(c["started_at"] for c in by_slice[second])
        if pair["phase"] in ("STEADY_AB", "HIGH_LOAD"):
            assert order(kv_slice), pair["phase"]
            assert pair["ratio"]["2"] is not None and pair["ratio"]["2"] < 1.0, pair  # the stub's cache works for KV only
    text = lg.metrics()
    assert 'loadgen_slice_ttft_ratio{phase="STEADY_AB",turns="2"}' in text
    # Issue 31: the page's one number source pools exactly these completed pairs' requests.
    pooled = final["scenario"]["pooled"]
    assert pooled["pairs"] == len(pairs)
    for side, key in (("kv", "kvRequests"), ("roundRobin", "rrRequests")):
        assert pooled["groups"]["2"][key] == sum(p[side]["samples"]["2"] for p in pairs)
        assert pooled["groups"]["1"][key] == sum(p[side]["samples"]["1"] for p in pairs)
    assert pooled["groups"]["2"]["ratio"] < 1.0 and pooled["groups"]["2"]["low"] <= pooled["groups"]["2"]["ratio"] <= pooled["groups"]["2"]["high"]


def test_router_or_load_change_hands_auto_mode_to_manual(auto_lg):
    """Auto mode compares both routers; choosing one router (or a load) is a manual decision."""
    lg = auto_lg
    lg.post("/api/scenario/auto")
    status = lg.post("/api/workload/config", {"maxTokens": 8}).json()
    assert status["scenario"]["mode"] == "auto"
    status = lg.post("/api/workload/config", {"router": "round-robin"}).json()
    assert status["scenario"]["mode"] == "manual" and status["config"]["router"] == "round-robin"
    lg.post("/api/scenario/auto")
    status = lg.post("/api/workload/config", {"totalRPS": 3.0, "maxConcurrency": 7}).json()
    assert status["scenario"]["mode"] == "manual" and status["scenario"]["phase"] == "IDLE"
    assert status["running"] and status["config"]["totalRPS"] == 3.0
    lg.post("/api/workload/stop")


def test_manual_keeps_load_running(auto_lg):
    lg = auto_lg
    lg.post("/api/scenario/auto")
    status = lg.post("/api/scenario/manual").json()
    assert status["scenario"]["mode"] == "manual" and status["running"] and status["config"]["totalRPS"] == 1.0
    assert lg.post("/api/workload/stop").json()["running"] is False
