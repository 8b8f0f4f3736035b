"""Every dashboard panel is fed: a real Prometheus scrapes the rehearsal while it serves load.

Debian's Prometheus 2.42 scrapes both Dynamo frontends, each mocker worker's system port (as the
cluster's PodMonitor scrapes worker pods; the `pod` label stands in for the pod name) and the load
generator, once a second. The load generator runs KV and round-robin conversations; then every panel
query of manifests/dashboards/ is evaluated the way Grafana would (with $__rate_interval set to a
range that covers the run). Each query that uses no cluster-only exporter (manifests/metrics.yaml
`cluster_only`: dcgm-exporter, kube-state-metrics, cAdvisor, the TensorRT-LLM engine's own series)
must return at least one finite value.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import httpx
import pytest

from prometheus_server import Prometheus
from rehearsal.ports import pick_free
from rehearsal.stack import Stack, StackConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dashboard_queries import ALL_QUERIES, METRICS, metric_names, parse, series_group, with_intervals  # noqa: E402

RUN_WINDOW = {"$__rate_interval": "2m", "$__interval": "1m", "$__range": "5m"}
WORKLOAD = {
    "totalRPS": 3,
    "mix": {"a": 1.0, "b": 0, "c": 0},
    "maxConcurrency": 8,
    "turns": {"min": 3, "max": 3},
    "openingTokens": 800,
    "thinkTimeMs": {"min": 100, "max": 400},
    "maxConversations": 10,
    "maxTokens": 32,
}
CLUSTER_ONLY = {name for name, group in METRICS["groups"].items() if group.get("cluster_only")}


def cluster_only_groups(expr: str) -> set[str]:
    return {series_group(name) for name in metric_names(parse(expr))} & CLUSTER_ONLY


def has_finite_value(result: list[dict]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


def run_workload(ui: httpx.Client, router: str, timeout_s: float = 90.0) -> None:
    ui.post("/api/workload/start", json=WORKLOAD | {"router": router}).raise_for_status()
    deadline = time.monotonic() + timeout_s
    while ui.get("/api/status").json()["state"] != "finished":
        assert time.monotonic() < deadline, f"{router} workload did not finish in {timeout_s:.0f}s"
        time.sleep(0.5)


def test_cluster_only_groups_name_their_exporter():
    assert CLUSTER_ONLY == {"dcgm", "kube_state_metrics", "cadvisor", "trtllm_worker"}
    for name in CLUSTER_ONLY:
        assert set(METRICS["groups"][name]["cluster_only"]) == {"exporter", "release", "scraped_by"}, name


@pytest.mark.e2e
def test_every_panel_query_without_a_cluster_only_exporter_returns_data(tmp_path):
    kv_port, rr_port, ui_port = pick_free(3)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=ui_port, workers=2)
    with Stack(config, work_dir=tmp_path / "rehearsal") as stack:
        stack.wait_ready(timeout_s=120)
        host = lambda url: url.removeprefix("http://")  # noqa: E731
        jobs = {
            "dynamo-frontend": [(host(config.kv_url), {"router": "kv"}), (host(config.rr_url), {"router": "round-robin"})],
            "dynamo-worker": [(host(url), {"pod": name}) for name, url in stack.worker_system_urls.items()],
            "loadgen": [(host(config.ui_metrics_url), {})],  # /metrics is on the internal port (issue 16)
        }
        with Prometheus(tmp_path / "prometheus", jobs) as prom:
            deadline = time.monotonic() + 30
            while set(prom.targets_up().values()) != {"up"} or len(prom.targets_up()) != 5:
                assert time.monotonic() < deadline, f"targets not all up: {prom.targets_up()}"
                time.sleep(0.5)
            with httpx.Client(base_url=config.ui_url, headers=config.control_headers, timeout=10.0) as ui:
                run_workload(ui, "kv")
                run_workload(ui, "round-robin")
            time.sleep(3)  # the last scrapes
            results = {(d, title, expr): prom.query(with_intervals(expr, RUN_WINDOW)) for d, title, expr in ALL_QUERIES}

    local = {key: result for key, result in results.items() if not cluster_only_groups(key[2])}
    empty = [f"{d} / {title}: {expr}" for (d, title, expr), result in local.items() if not has_finite_value(result)]
    fed = len(local) - len(empty)
    print(f"\n{fed} of {len(local)} panel queries without a cluster-only exporter return data "
          f"({len(results) - len(local)} more need a cluster-only exporter)")
    assert not empty, "panel queries with no data from the rehearsal:\n  " + "\n  ".join(empty)
    worker_panels = [key for key in local if "dynamo_component_request" in key[2]]
    assert worker_panels, "no panel reads the workers' own metrics"
