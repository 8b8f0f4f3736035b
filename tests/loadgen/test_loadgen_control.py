"""Control actions fired together (a double-click, two presenters) never leave a second arrival loop or phase
timer behind, and Stop always stops (issue 16, item 2)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from loadgen_testkit import FAST, wait_for

ACTIONS = [
    ("/api/workload/start", {"totalRPS": 40, "maxConcurrency": 50, **FAST}),
    ("/api/scenario/auto", None),
    ("/api/workload/start", {"totalRPS": 40, "maxConcurrency": 50, **FAST}),
    ("/api/workload/reset", None),
    ("/api/scenario/auto", None),
    ("/api/scenario/manual", None),
    ("/api/workload/start", {"totalRPS": 40, "maxConcurrency": 50, **FAST}),
    ("/api/workload/stop", None),
]


@pytest.fixture
def lg(make_stub, make_loadgen):
    return make_loadgen(make_stub(ttft_ms=30, itl_ms=5).url, scenario_speedup=60)


def _fire(url: str, calls: list[tuple[str, dict | None]]) -> list[int]:
    """All calls at once from separate connections."""
    def one(call):
        path, body = call
        with httpx.Client(base_url=url, timeout=30) as client:
            return client.post(path, json=body).status_code
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def _sessions_started(lg) -> int:
    return lg.status()["counters"]["sessionsStarted"]


def test_concurrent_starts_after_a_finished_run_leave_one_loop_and_stop_stops(lg):
    for _ in range(5):
        # A run that finished (the state in which concurrent Starts each used to start a loop).
        lg.post("/api/workload/start", {"totalRPS": 50, "maxConversations": 1, **FAST})
        lg.wait_state("finished")
        assert set(_fire(lg.url, [ACTIONS[0]] * 6)) == {200}
        assert lg.status()["control"] == {"arrivalLoops": 1, "phaseTimers": 0}
        assert lg.post("/api/workload/stop").status_code == 200
        assert lg.status()["control"] == {"arrivalLoops": 0, "phaseTimers": 0}
        settled = _sessions_started(lg)
        time.sleep(0.5)
        assert _sessions_started(lg) == settled, "sessions kept starting after Stop"


def test_mixed_control_storm_keeps_at_most_one_loop_and_one_timer(lg):
    for round_ in range(6):
        calls = ACTIONS[round_ % 2:] + ACTIONS[: round_ % 2]  # vary which call lands first
        assert all(code == 200 for code in _fire(lg.url, calls * 2))
        control = lg.status()["control"]
        assert control["arrivalLoops"] <= 1 and control["phaseTimers"] <= 1, control
        status = lg.status()
        assert (control["phaseTimers"] == 1) == (status["scenario"]["mode"] == "auto")
        assert (control["arrivalLoops"] == 1) == (status["state"] == "running")
    assert lg.post("/api/workload/stop").status_code == 200
    assert lg.status()["control"] == {"arrivalLoops": 0, "phaseTimers": 0}
    settled = _sessions_started(lg)
    time.sleep(0.5)
    assert _sessions_started(lg) == settled


def test_concurrent_auto_clicks_leave_one_timer_and_manual_settings_stick(lg):
    assert set(_fire(lg.url, [("/api/scenario/auto", None)] * 6)) == {200}
    assert lg.status()["control"]["phaseTimers"] == 1
    assert lg.post("/api/scenario/manual").status_code == 200
    assert lg.post("/api/workload/config", {"totalRPS": 7.5, "maxConcurrency": 3}).status_code == 200
    time.sleep(1.5)  # several auto-mode phases at speedup 60: a hidden timer would have overridden the rate
    status = lg.status()
    assert status["scenario"]["mode"] == "manual" and status["control"]["phaseTimers"] == 0
    assert (status["config"]["totalRPS"], status["config"]["maxConcurrency"]) == (7.5, 3)
    lg.post("/api/workload/stop")
    wait_for(lambda: lg.status()["control"]["arrivalLoops"] == 0, what="no arrival loop")
