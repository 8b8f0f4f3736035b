"""What the booth screen is fed: serving worker per turn (Dynamo nvext), the headline, the routing map,
per-request WebSocket events, equal A/B load, and memory that stays bounded over a show day."""

from __future__ import annotations

import json
import resource
import time

from loadgen_testkit import FAST, wait_for
from websockets.sync.client import connect

AB_FAST = {**FAST, "router": "ab", "openingTokens": 2000}


def _run(lg, body: dict, timeout_s: float = 60.0) -> dict:
    assert lg.post("/api/workload/start", body).status_code == 200
    return lg.wait_state("finished", timeout_s)


def test_each_turn_records_the_worker_dynamo_reports_and_its_server_timing(pair):
    lg, kv, rr = pair
    kv.config.worker_id, rr.config.worker_id = 2**63 + 11, 2**63 + 22  # 64-bit ids, as Dynamo's are
    status = _run(lg, {**AB_FAST, "totalRPS": 40, "maxConversations": 4})
    body = kv.stub.requests[-1]
    assert body["nvext"] == {"extra_fields": ["worker_id", "timing"]}
    turns = [t for c in lg.conversations(run=status["run"])["conversations"] for t in c["turns"]]
    kv_turns = [t for t in turns if t["router"] == "kv"]
    assert {t["worker_id"] for t in kv_turns} == {str(2**63 + 11)}  # text: JSON clients would round it
    assert {t["worker"] for t in turns} == {"W1", "W2"}
    assert all(t["server_ttft_ms"] is not None and t["kv_hit_rate"] is not None for t in turns)


def test_ab_replays_every_conversation_on_both_routers_with_equal_load(pair):
    lg, kv, rr = pair
    status = _run(lg, {**AB_FAST, "totalRPS": 40, "maxConversations": 10, "turns": {"min": 2, "max": 4}})
    convs = lg.conversations(run=status["run"])["conversations"]
    by_router = {r: sorted((c["source"], c["planned_turns"]) for c in convs if c["router"] == r) for r in ("kv", "round-robin")}
    assert by_router["kv"] == by_router["round-robin"] and len(by_router["kv"]) == 5
    questions = {r: sorted(str([m["content"] for m in b["messages"] if m["role"] == "user"][1:]) for b in s.stub.requests) for r, s in (("kv", kv), ("round-robin", rr))}
    assert questions["kv"] == questions["round-robin"]  # same follow-ups too
    assert len(kv.stub.requests) == len(rr.stub.requests)


def test_live_snapshot_has_the_headline_and_the_routing_map(pair):
    lg, _, _ = pair
    _run(lg, {**AB_FAST, "totalRPS": 40, "maxConversations": 6})
    live = lg.http.get("/api/live").json()
    head = live["headline"]
    # The caching stub answers follow-ups fast; the baseline re-prefills every time.
    assert 0.3 < head["followupTtftDrop"] < 1 and head["turn2TtftDrop"] > 0.3
    assert head["cachedTokens"]["kv"] > 2000 and head["cachedTokens"]["round-robin"] == 0
    assert head["followupSamples"] == {"kv": 6, "round-robin": 6}
    rows = live["routingMap"]
    assert len(rows["kv"]) == 3 and len(rows["round-robin"]) == 3
    assert all([t["turn"] for t in row["turns"]] == [1, 2, 3] and all(t["worker"] for t in row["turns"]) for row in rows["kv"])


def test_websocket_sends_one_event_per_finished_request(pair):
    lg, _, _ = pair
    url = lg.url.replace("http://", "ws://") + "/ws"
    events: list[dict] = []
    with connect(url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        lg.post("/api/workload/start", {**AB_FAST, "totalRPS": 40, "maxConversations": 4})
        deadline = time.monotonic() + 30
        while len(events) < 12 and time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=10))
            if msg["type"] == "turn":
                events.append(msg)
    assert len(events) == 12  # 4 conversations x 3 turns
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    for e in events:
        assert {"conversationId", "turn", "router", "worker", "ttftMs", "itlMs", "cachedTokens", "serverTtftMs", "kvHitRate"} <= e.keys()
        assert e["ok"] and e["ttftMs"] > 0 and e["worker"] == "W1" and e["router"] in ("kv", "round-robin")
    assert {e["turn"] for e in events} == {1, 2, 3}


def test_a_show_day_of_traffic_keeps_memory_bounded(make_stub, make_loadgen):
    """Thousands of conversations (a day of booth traffic at high speed): every store stays at its cap."""
    kv, rr = make_stub(ttft_ms=1, itl_ms=0, max_tokens_cap=2), make_stub(ttft_ms=1, itl_ms=0, max_tokens_cap=2, prefix_cache=False)
    lg = make_loadgen(kv.url, rr.url, max_kept_conversations=200)
    body = {"totalRPS": 150, "maxConcurrency": 100, "turns": {"min": 1, "max": 3}, "thinkTimeMs": {"min": 0, "max": 0}, "maxTokens": 2, "openingTokens": 1000}
    lg.post("/api/workload/start", body)

    def rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    wait_for(lambda: lg.status()["counters"]["sessionsCompleted"] >= 1500, timeout_s=120, interval_s=0.5, what="1500 conversations")
    peak_early = rss_mb()
    wait_for(lambda: lg.status()["counters"]["sessionsCompleted"] >= 4500, timeout_s=240, interval_s=0.5, what="4500 conversations")
    counters = lg.status()["counters"]
    lg.post("/api/workload/stop")
    assert counters["keptConversations"] <= 200 + 100  # finished cap + at most maxConcurrency active
    assert counters["turnEvents"] <= 2000 and counters["liveSamples"] <= 20_000
    assert len(lg.http.get("/api/live").json()["routingMap"]["kv"]) <= 10
    # Peak RSS of the whole test process grows by less than a few MB per 1000 conversations after warm-up.
    assert rss_mb() - peak_early < 60, (peak_early, rss_mb())
