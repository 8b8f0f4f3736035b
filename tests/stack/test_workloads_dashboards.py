"""Dashboards: ConfigMaps for the Grafana sidecar, and every panel query uses metrics the components export."""

import json
import re
import sys
from pathlib import Path

import promql_parser
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from dashboard_queries import (  # noqa: E402
    ALL_QUERIES, DASHBOARDS, HISTOGRAM_SERIES, METRICS, metric_names, panel_queries, parse)


def known_metrics() -> dict[str, str]:
    names = {}
    for group in METRICS["groups"].values():
        names.update(group["metrics"])
    return names


def allowed(name: str, known: dict[str, str]) -> bool:
    if name in known:
        return True
    for suffix in HISTOGRAM_SERIES:
        if name.endswith(suffix) and known.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def test_there_are_two_dashboards_with_queries():
    assert {p.stem for p in DASHBOARDS} == {"dynamo-overview", "gtc-demo"}
    assert len(ALL_QUERIES) >= 20


@pytest.mark.parametrize("dashboard,title,expr", ALL_QUERIES, ids=[f"{d}:{t}:{i}" for i, (d, t, _) in enumerate(ALL_QUERIES)])
def test_every_query_parses_and_uses_exported_metrics(dashboard, title, expr):
    names = metric_names(parse(expr))
    assert names, f"{title}: no metric in {expr}"
    known = known_metrics()
    unknown = sorted(n for n in names if not allowed(n, known))
    assert not unknown, f"{dashboard} / {title}: {unknown} not in manifests/metrics.yaml"


def test_the_checker_rejects_unknown_and_non_histogram_suffixes():
    known = known_metrics()
    assert metric_names(parse("sum(rate(foo_bar_total[5m])) / on() bar_baz")) == {"foo_bar_total", "bar_baz"}
    assert not allowed("dynamo_frontend_requests_total_bucket", known)  # a counter has no buckets
    assert not allowed("dynamo_component_kvstats_gpu_prefix_cache_hit_rate", known)  # gone in Dynamo 1.6.1
    assert allowed("dynamo_frontend_time_to_first_token_seconds_bucket", known)
    with pytest.raises(Exception):
        parse("sum(rate(x[5m])")


def test_demo_dashboard_title_and_panels():
    demo = json.loads((REPO / "manifests" / "dashboards" / "gtc-demo.json").read_text())
    assert demo["title"] == "GTC Demo: Optimized LLM Inference"
    titles = " | ".join(p["title"] for p in demo["panels"]).lower()
    for wanted in ("ttft", "itl", "request rate", "in-flight", "kv cache hit rate", "gpu utilisation",
                   "output tokens/s", "end-to-end", "worker replicas", "by conversation turn"):
        assert wanted in titles, wanted
    for gone in ("prefill", "decode pool", "disaggregated", "scaling"):
        assert gone not in titles, gone
    exprs = " ".join(expr for _, expr in panel_queries(REPO / "manifests" / "dashboards" / "gtc-demo.json"))
    # TTFT by turn is a mean (sum / count) per router and turn: round-robin's median hides its misses.
    assert re.search(r"sum by \(router, turn\) \(rate\(loadgen_ttft_seconds_sum\{workload=\"chat\"\}\[\$__rate_interval\]\)\)"
                     r" / sum by \(router, turn\) \(rate\(loadgen_ttft_seconds_count\{workload=\"chat\"\}", exprs)
    assert "p50" in json.dumps(demo) and "p95" in json.dumps(demo)


def test_metric_list_groups_say_where_they_came_from():
    for name, group in METRICS["groups"].items():
        assert len(group["source"]) > 30, name
        assert group["metrics"], name
        assert set(group["metrics"].values()) <= {"counter", "gauge", "histogram", "summary"}, name


def test_loadgen_group_matches_the_load_generator_source():
    source = (REPO / "loadgen" / "metrics.py").read_text()
    declared = {m.group(2): m.group(1).lower()
                for m in re.finditer(r'(Histogram|Counter|Gauge)\(\s*"(loadgen_[a-z_]+)"', source)}
    assert METRICS["groups"]["loadgen"]["metrics"] == declared
    for contract in ("loadgen_ttft_seconds", "loadgen_itl_seconds", "loadgen_request_duration_seconds"):
        assert declared[contract] == "histogram"


def test_dashboard_config_maps_for_the_sidecar(stack_plan):
    maps = {r.name: r.plain for r in stack_plan.by_type("kubernetes:core/v1:ConfigMap") if r.name.startswith("dashboards-")}
    assert set(maps) == {"dashboards-dynamo-overview", "dashboards-gtc-demo"}
    for name, config_map in maps.items():
        stem = name.removeprefix("dashboards-")
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config_map["data"][f"{stem}.json"]) == json.loads(
            (REPO / "manifests" / "dashboards" / f"{stem}.json").read_text())
    monitoring = stack_plan.get("kubernetes:helm.sh/v3:Release", "platform-kube-prometheus-stack")
    for resource in stack_plan.by_type("kubernetes:core/v1:ConfigMap"):
        if resource.name.startswith("dashboards-"):
            assert stack_plan.depends_on(resource, monitoring)


def worker_ready_query() -> str:
    [expr] = [expr for path in DASHBOARDS for title, expr in panel_queries(path) if title == "Worker replicas ready"]
    return expr


def pod_matchers(expr: str) -> list:
    """The `pod=~` matchers of every selector in a PromQL expression."""
    found = []

    def walk(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.extend(m for m in node.matchers.matchers if m.name == "pod")
            return
        for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)

    walk(parse(expr))
    return found


# Pod names as the operator gives them to a v1beta1 DGD `gtc-demo` (component names from components/dgd.py):
# worker DCD/Deployment `<dgd>-<component>-<8-hex worker hash>`, then the ReplicaSet hash and a pod suffix.
WORKER_PODS = ["gtc-demo-trtllmworker-a1b2c3d4-7c9f8d6b5-x2k9p", "gtc-demo-trtllmworker-0f5e6d7c-5d8b9c7f4-abcde"]
NOT_WORKER_PODS = ["gtc-demo-frontend-6d5c4b3a2-k8s9z", "gtc-demo-frontendroundrobin-6d5c4b3a2-k8s9z",
                   "gtc-demo-trtllmworker-7c9f8d6b5-x2k9p",  # v1alpha1 naming (no worker hash): not this DGD
                   "model-download-x2k9p", "loadgen-7c9f8d6b5-x2k9p"]


def test_worker_replicas_query_matches_the_pods_the_operator_creates():
    from components.dgd import worker_pod_regex
    [matcher] = pod_matchers(worker_ready_query())
    assert matcher.value == worker_pod_regex()
    pattern = re.compile(f"^(?:{matcher.value})$")  # Prometheus anchors regex matchers
    for pod in WORKER_PODS:
        assert pattern.match(pod), pod
    for pod in NOT_WORKER_PODS:
        assert not pattern.match(pod), pod
