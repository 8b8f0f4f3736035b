"""Live feed: /ws pushes status and live numbers about once a second, and the numbers move while load runs."""

from __future__ import annotations

import json

import pytest
from loadgen_testkit import FAST
from websockets.sync.client import connect


@pytest.fixture
def slow_prefill_pair(make_pair):
    """Like `pair`, with a re-prefill of the history costing ~1.2-2 s, not ~0.06 s: three turn-2 requests a router
    are few, and one stalled request sets their mean. At ~0.06 s a cold run at load 10 read KV's cached turn 2 at
    163 ms against round-robin's 108; at ~0.35 s, in the unit lane beside the booth's real-time rehearsals, a CI run
    read KV's turn 2 at 798 ms against its turn 1's 733. This test is in the `realtime` lane now (tests/conftest.py),
    where a 10 ms sleep woke at most 0.95 s late beside them."""
    return make_pair(prefill_ms_per_1k=1000)


def test_ws_pushes_snapshots_that_track_the_workload(slow_prefill_pair):
    lg, _, _ = slow_prefill_pair
    with connect(lg.url.replace("http", "ws") + "/ws", open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "snapshot"
        assert first["status"]["state"] == "idle" and first["status"]["scenario"]["phase"] == "IDLE"
        assert set(first["live"]["routers"]) == {"kv", "round-robin"}
        lg.post("/api/workload/start", {"totalRPS": 30, "router": "ab", "maxConversations": 6, "openingTokens": 2000, **FAST})
        live, snapshots = None, 0
        while snapshots < 30:  # at most ~30 s of snapshots
            msg = json.loads(ws.recv(timeout=10))
            if msg["type"] != "snapshot":  # per-request "turn" events share the socket (issue 11)
                continue
            snapshots += 1
            if msg["status"]["state"] == "finished":
                live = msg["live"]
                break
        assert live is not None, "run did not finish while watching the feed"
        assert msg["status"]["counters"]["requestsOk"] == 18
        kv, rr = live["routers"]["kv"], live["routers"]["round-robin"]
        assert kv["requests"] == 9 and rr["requests"] == 9
        assert kv["ttftP50ByTurn"]["2"] < kv["ttftP50ByTurn"]["1"]
        assert kv["ttftMeanByTurn"]["2"] < kv["ttftMeanByTurn"]["1"]
        # Round-robin never lands on the cache here (the stub has no shared cache across routers):
        assert rr["ttftMeanByTurn"]["2"] > kv["ttftMeanByTurn"]["2"]
        assert rr["cachedShare"] < 0.05 < kv["cachedShare"]
        assert kv["requestRate"] > 0


def test_live_endpoint_matches_window(pair):
    lg, _, _ = pair
    live = lg.http.get("/api/live").json()
    assert live["windowSeconds"] == 120 and live["routers"]["kv"]["requests"] == 0
