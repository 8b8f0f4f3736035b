"""The dashboard panels the rehearsal cannot feed (manifests/metrics.yaml `cluster_only`) are fed in the cluster:
each exporter is installed by a release of the plan, and Prometheus scrapes it. Checked on what the charts
really render: `helm template` of the vendored charts with the program's own values; every ServiceMonitor or
PodMonitor must select the labels the chart puts on its Service (or that the operator puts on its pods), on
a port that exists, and must itself be selected by the Prometheus that kube-prometheus-stack renders."""

from __future__ import annotations

import pytest
import yaml

from components.charts import CHARTS, REPO_ROOT
from components.infra import GPU_NODE_LABEL
from plan import unwrap
from tools.helm import template
from tools.render_charts import API_VERSIONS, RELEASE, kube_version
METRICS = yaml.safe_load((REPO_ROOT / "manifests" / "metrics.yaml").read_text())
CLUSTER_ONLY = {name: g["cluster_only"] for name, g in METRICS["groups"].items() if g.get("cluster_only")}


def selects(selector: dict | None, labels: dict) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions); an empty selector selects all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values or op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels or op == "DoesNotExist" and key in labels:
            return False
    return True


_RENDERED: dict[str, dict[str, list[dict]]] = {}


def rendered(plan) -> dict[str, list[dict]]:
    """Release name -> every object `helm template` renders for it with the program's values (once a stack)."""
    if plan.stack in _RENDERED:
        return _RENDERED[plan.stack]
    stack = plan.stack
    kube = kube_version(stack)
    out = {}
    for release in plan.by_type(RELEASE):
        inputs = unwrap(release.inputs)
        name = inputs["name"]
        out[name] = template(CHARTS[name].vendored_path, name, inputs["namespace"], inputs.get("values") or {}, kube,
                             API_VERSIONS)
    _RENDERED[stack] = out
    return out


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


def named(objects: list[dict], kind: str, name: str) -> dict:
    [found] = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


@pytest.fixture
def charts(stack_plan) -> dict[str, list[dict]]:
    """The session's plan of each stack (conftest.stack_plan), rendered: no second evaluation of the program."""
    return rendered(stack_plan)


def prometheus(charts) -> dict:
    [prom] = of_kind(charts["kube-prometheus-stack"], "Prometheus")
    return prom["spec"]


def assert_scraped(charts, monitor: dict) -> None:
    """Prometheus picks the monitor up: its labels and namespace are selected (an empty selector: all)."""
    spec = prometheus(charts)
    kind = monitor["kind"]
    selector = spec["serviceMonitorSelector" if kind == "ServiceMonitor" else "podMonitorSelector"]
    namespaces = spec["serviceMonitorNamespaceSelector" if kind == "ServiceMonitor" else "podMonitorNamespaceSelector"]
    assert selector == {} or selects(selector, monitor["metadata"].get("labels") or {}), monitor["metadata"]["name"]
    assert namespaces == {}, "Prometheus must look for monitors in every namespace"


def assert_monitor_matches_service(monitor: dict, services: list[dict]) -> dict:
    """The ServiceMonitor selects a rendered Service and scrapes one of its named ports; returns the Service."""
    matched = [s for s in services if selects(monitor["spec"]["selector"], s["metadata"].get("labels") or {})]
    assert len(matched) == 1, f"{monitor['metadata']['name']} selects {len(matched)} Services"
    ports = {p.get("name") for p in matched[0]["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    allowed = (monitor["spec"].get("namespaceSelector") or {}).get("matchNames")
    assert allowed is None or matched[0]["metadata"].get("namespace", monitor["metadata"]["namespace"]) in allowed
    return matched[0]


def test_each_cluster_only_group_names_a_release_the_stacks_install(charts):
    assert set(CLUSTER_ONLY) == {"dcgm", "kube_state_metrics", "cadvisor", "trtllm_worker"}
    for group, exporter in CLUSTER_ONLY.items():
        assert exporter["release"].split(" ")[0] in charts, group


def test_kube_state_metrics_is_installed_and_scraped(charts):
    objects = charts["kube-prometheus-stack"]
    assert named(objects, "Deployment", "kube-prometheus-stack-kube-state-metrics")
    monitor = named(objects, "ServiceMonitor", "kube-prometheus-stack-kube-state-metrics")
    assert_monitor_matches_service(monitor, of_kind(objects, "Service"))
    assert_scraped(charts, monitor)


def test_cadvisor_is_scraped_through_the_kubelet_service_the_operator_maintains(charts):
    objects = charts["kube-prometheus-stack"]
    monitor = named(objects, "ServiceMonitor", "kube-prometheus-stack-kubelet")
    assert "/metrics/cadvisor" in {e.get("path") for e in monitor["spec"]["endpoints"]}
    # Not a chart object: prometheus-operator creates and updates kube-system/<name> with the kubelets' addresses.
    operator = named(objects, "Deployment", "kube-prometheus-stack-operator")
    args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--kubelet-service=kube-system/kube-prometheus-stack-kubelet" in args
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["kube-system"]}
    assert selects(monitor["spec"]["selector"], {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"})
    assert_scraped(charts, monitor)


def test_dcgm_exporter_runs_on_the_gpu_node_and_is_scraped(charts):
    objects = charts["dcgm-exporter"]
    [daemonset] = of_kind(objects, "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {GPU_NODE_LABEL: "nvidia"}
    assert any(t.get("key") == "nvidia.com/gpu" for t in pod["tolerations"])
    [monitor] = of_kind(objects, "ServiceMonitor")
    service = assert_monitor_matches_service(monitor, of_kind(objects, "Service"))
    assert selects({"matchLabels": service["spec"]["selector"]}, daemonset["spec"]["template"]["metadata"]["labels"])
    assert_scraped(charts, monitor)


def test_trtllm_engine_series_come_from_the_worker_pods_system_port(charts, dev_plan):
    """dynamo-platform's dynamo-worker PodMonitor scrapes port `system` of worker pods (the operator's labels)."""
    monitor = named(charts["dynamo-platform"], "PodMonitor", "dynamo-worker")
    labels = {"nvidia.com/dynamo-component-type": "worker", "nvidia.com/metrics-enabled": "true"}
    assert selects(monitor["spec"]["selector"], labels)
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    assert ("system", "/metrics") in {(e.get("port"), e.get("path")) for e in monitor["spec"]["podMetricsEndpoints"]}
    assert_scraped(charts, monitor)
    from components.dgd import SYSTEM_PORT, WORKER
    from dgd_view import components, env
    assert env(components(dev_plan)[WORKER])["DYN_SYSTEM_PORT"] == str(SYSTEM_PORT) == "9090"  # the port named system


def test_the_selector_check_can_fail():
    assert not selects({"matchLabels": {"a": "1"}}, {"a": "2"})
    assert not selects({"matchExpressions": [{"key": "t", "operator": "In", "values": ["worker"]}]}, {"t": "frontend"})
    assert selects({}, {"anything": "x"})
