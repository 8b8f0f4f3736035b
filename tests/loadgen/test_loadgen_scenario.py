"""Auto mode: the booth's 4-phase story (warm-up, steady A/B, high load, cool-down) with captions, countdown and cycle count."""

from __future__ import annotations

import pytest
from loadgen_testkit import wait_for

from loadgen.scenario import PHASES, phase_at


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


@pytest.mark.parametrize(
    "elapsed,expected",
    [
        (0, (0, 60, 1)),
        (59.5, (0, 0.5, 1)),
        (60, (1, 120, 1)),
        (200, (2, 70, 1)),
        (300, (3, 30, 1)),
        (330, (0, 60, 2)),
        (330 * 3 + 185, (2, 85, 4)),
    ],
)
def test_phase_at_walks_the_cycle(elapsed, expected):
    index, left, cycle = phase_at(elapsed)
    assert (index, round(left, 6), cycle) == expected


def test_speedup_scales_durations():
    assert phase_at(1.0, speedup=60) == (1, 2.0, 1)


@pytest.fixture
def auto_lg(make_stub, make_loadgen):
    kv, rr = make_stub(ttft_ms=5), make_stub(ttft_ms=5, prefix_cache=False)
    return make_loadgen(kv.url, rr.url, scenario_speedup=60)  # cycle of 5.5 s instead of 5.5 min


def test_auto_mode_cycles_phases_with_countdown_and_cycle_count(auto_lg):
    lg = auto_lg
    status = lg.post("/api/scenario/auto").json()
    sc = status["scenario"]
    assert sc["mode"] == "auto" and sc["phase"] == "WARM_UP" and sc["cycle"] == 1 and sc["label"] == "Warm-up"
    assert "turn 1" in sc["description"]
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
    assert "round-robin" in seen["HIGH_LOAD"]["scenario"]["description"].lower()
    again = wait_for(lambda: (s := lg.status())["scenario"]["cycle"] == 2 and s, timeout_s=20, interval_s=0.02, what="cycle 2")
    assert again["scenario"]["phase"] in ("WARM_UP", "STEADY_AB")
    assert "loadgen_scenario_phase" in lg.metrics()
    stopped = lg.post("/api/scenario/stop").json()
    assert stopped["scenario"]["phase"] == "IDLE" and stopped["scenario"]["mode"] == "manual"
    assert stopped["running"] is False


def test_router_or_load_change_hands_auto_mode_to_manual(auto_lg):
    """Auto mode always shows both routers; choosing one router (or a load) is a manual decision."""
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
