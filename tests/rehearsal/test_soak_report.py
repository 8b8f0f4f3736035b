"""bench.soak's readings: failures come from the load generator's own counters, and the memory slope
ignores the warm-up, so a process that fills its caches early and then stays flat reads as flat."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from bench.soak import MB, WARM_UP_S, failed_requests, slope_mb_per_h


def test_failed_requests_reads_the_load_generators_counters():
    registry = CollectorRegistry()
    requests = Counter("loadgen_requests_total", "", ("workload", "router", "status"), registry=registry)
    errors = Counter("loadgen_errors_total", "", ("workload", "router", "kind"), registry=registry)
    requests.labels("chat", "kv", "ok").inc(10)
    requests.labels("chat", "round-robin", "ok").inc(5)
    requests.labels("chat", "kv", "error").inc(2)
    errors.labels("chat", "kv", "timeout").inc(2)
    assert failed_requests(generate_latest(registry).decode()) == {
        "requests[ok]": 15.0, "requests[error]": 2.0, "errors[timeout]": 2.0}


def test_slope_ignores_warm_up_and_sees_a_leak():
    early_growth_then_flat = [(t, (100 + min(t, WARM_UP_S) / 10) * MB) for t in range(0, 3600, 30)]
    assert slope_mb_per_h(early_growth_then_flat) == pytest.approx(0.0, abs=1e-6)
    leaking = [(t, (100 + t / 36) * MB) for t in range(0, 3600, 30)]  # +100 MB an hour
    assert slope_mb_per_h(leaking) == pytest.approx(100.0)
    assert slope_mb_per_h([(0, MB), (30, MB)]) is None  # too short a run to say
