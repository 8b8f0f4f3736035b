"""Control API: validation (422 naming the field), auth (401), nothing changes on rejection, reads stay open."""

from __future__ import annotations

import pytest
from loadgen_testkit import TOKEN


@pytest.fixture
def guarded(make_stub, make_loadgen):
    """Service with a control token, KV + baseline frontends, and a client that does NOT send the token."""
    kv, rr = make_stub(), make_stub()
    return make_loadgen(kv.url, rr.url, token=TOKEN, client_token=None)


STATE_CHANGING = [
    ("/api/workload/start", {"totalRPS": 3}),
    ("/api/workload/config", {"totalRPS": 3}),
    ("/api/workload/stop", None),
    ("/api/workload/reset", None),
    ("/api/scenario/auto", None),
    ("/api/scenario/stop", None),
    ("/api/scenario/manual", None),
]


@pytest.mark.parametrize("path,body", STATE_CHANGING)
def test_state_changing_calls_need_the_token(guarded, path, body):
    before = guarded.status()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = guarded.http.post(path, json=body, headers=headers)
        assert response.status_code == 401, (path, headers)
    after = guarded.status()
    assert after["config"] == before["config"]
    assert after["state"] == "idle" and after["scenario"]["phase"] == "IDLE"


def test_reads_stay_open_and_token_unlocks_control(guarded):
    for path in ("/api/status", "/healthz", "/api/conversations", "/api/summary", "/api/presets", "/"):
        assert guarded.http.get(path).status_code == 200, path
    assert "loadgen_requests_total" in guarded.metrics()  # /metrics moved to the internal port (issue 16)
    assert guarded.status()["authRequired"] is True
    ok = guarded.http.post("/api/workload/config", json={"totalRPS": 3}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert guarded.status()["config"]["totalRPS"] == 3


def test_missing_token_wins_over_bad_body(guarded):
    assert guarded.http.post("/api/workload/config", json={"totalRPS": -1}).status_code == 401


BAD_BODIES = [
    ({"totalRPS": -1}, "totalRPS"),
    ({"totalRPS": 100000}, "totalRPS"),
    ({"mix": {"a": 0.5, "b": 0.2, "c": 0.1}}, "mix"),
    ({"mix": {"a": 1.5, "b": -0.5, "c": 0}}, "mix"),
    ({"router": "random"}, "router"),
    ({"maxConcurrency": 0}, "maxConcurrency"),
    ({"maxConcurrency": 10**6}, "maxConcurrency"),
    ({"turns": {"min": 5, "max": 3}}, "turns"),
    ({"thinkTimeMs": {"min": -1, "max": 3}}, "thinkTimeMs"),
    ({"maxTokens": 0}, "maxTokens"),
    ({"maxConversations": 0}, "maxConversations"),
    ({"openingTokens": 1}, "openingTokens"),
    ({"totalRPS": None}, "totalRPS"),
    ({"totalRps": 2}, "totalRps"),
]


@pytest.fixture(scope="module")
def shared():
    """One service for the many rejected-input cases (a rejected call must not change it anyway)."""
    from loadgen_testkit import Loadgen, ThreadedServer
    from stub_openai import StubConfig, StubServer

    from loadgen.settings import Settings

    stub = StubServer(StubConfig()).start()
    lg = Loadgen(ThreadedServer(Settings(frontend_url=stub.url, model="test-model")).start(), None)
    yield lg
    lg.http.close()
    lg.app.stop()
    stub.stop()


@pytest.mark.parametrize("body,field", BAD_BODIES)
@pytest.mark.parametrize("path", ["/api/workload/start", "/api/workload/config"])
def test_bad_input_gets_422_naming_the_field_and_changes_nothing(shared, path, body, field):
    lg = shared
    before = lg.status()
    response = lg.post(path, body)
    assert response.status_code == 422
    payload = response.json()
    assert field in payload["message"]
    after = lg.status()
    assert after["config"] == before["config"]
    assert after["state"] == "idle"


def test_router_needing_a_baseline_is_rejected_without_one(make_stub, make_loadgen):
    lg = make_loadgen(make_stub().url)  # no --baseline-url
    assert lg.status()["routers"] == ["kv"]
    for router in ("round-robin", "ab"):
        response = lg.post("/api/workload/start", {"router": router})
        assert response.status_code == 422
        assert "router" in response.json()["message"]
    assert lg.status()["state"] == "idle"


def test_config_is_a_partial_update(pair):
    lg, _, _ = pair
    response = lg.post("/api/workload/config", {"totalRPS": 0.5, "router": "round-robin"})
    assert response.status_code == 200
    config = lg.status()["config"]
    assert config["totalRPS"] == 0.5 and config["router"] == "round-robin"
    assert config["mix"] == {"a": 1.0, "b": 0.0, "c": 0.0} and config["maxConcurrency"] == 16
    assert lg.status()["state"] == "idle"  # config alone does not start load


def test_defaults_are_the_booths_long_context_side_by_side(pair):
    """Issue 11: by default both routers run the same long-context conversations (6k-token openings)."""
    lg, _, _ = pair
    status = lg.status()
    assert status["config"]["totalRPS"] == 2 and status["config"]["maxConcurrency"] == 16
    assert status["config"]["mix"] == {"a": 1.0, "b": 0.0, "c": 0.0} and status["config"]["router"] == "ab"
    assert status["config"]["openingTokens"] == 7000 and status["config"]["maxTokens"] == 256
    assert status["config"]["turns"] == {"min": 2, "max": 4}
    assert status["scenario"] == {**status["scenario"], "phase": "IDLE", "mode": "manual", "cycle": 0}
    presets = lg.http.get("/api/presets").json()["presets"]
    assert [(p["key"], p["label"], p["totalRPS"]) for p in presets] == [
        ("1", "Long-context chat", 2.0),
        ("2", "High load", 3.0),
        ("3", "Short prompts", 2.0),
        ("4", "Summarization", 1.0),
        ("5", "Reasoning", 1.0),
    ]


def test_without_a_baseline_the_default_router_is_kv(make_stub, make_loadgen):
    lg = make_loadgen(make_stub().url)
    assert lg.status()["config"]["router"] == "kv"


def test_an_opening_too_long_for_the_engine_is_refused_naming_the_bound(pair):
    lg, _, _ = pair
    response = lg.post("/api/workload/config", {"openingTokens": 8000})
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("openingTokens:") and "8192" in message and "max-num-tokens" in message
    assert lg.status()["config"]["openingTokens"] == 7000
    assert lg.post("/api/workload/config", {"openingTokens": 7400, "turns": {"min": 2, "max": 3}}).status_code == 200


def test_unknown_conversation_is_404_and_limit_is_capped(pair):
    lg, _, _ = pair
    assert lg.http.get("/api/conversations/nope").status_code == 404
    assert lg.http.get("/api/conversations", params={"limit": 5000}).status_code == 200
    assert lg.http.get("/api/conversations", params={"limit": 5001}).status_code == 422


def test_metrics_exposes_the_dashboard_contract(pair):
    lg, _, _ = pair
    text = lg.metrics()
    for name in (
        "loadgen_ttft_seconds",
        "loadgen_itl_seconds",
        "loadgen_request_duration_seconds",
        "loadgen_requests_total",
        "loadgen_errors_total",
        "loadgen_active_conversations",
        "loadgen_followup_fallbacks_total",
        "loadgen_cached_tokens_total",
        "loadgen_prompt_tokens_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert "# TYPE loadgen_ttft_seconds histogram" in text
    assert 'loadgen_active_conversations{router="kv"} 0.0' in text
