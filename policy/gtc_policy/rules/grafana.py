"""Grafana's sidecars must not read Secrets cluster-wide.

In the Grafana chart (kube-prometheus-stack's subchart) any enabled sidecar gets a ClusterRole with
get/list/watch on every ConfigMap and Secret unless `rbac.namespaced` is true, and kube-prometheus-stack
sets the dashboard sidecar's `searchNamespace` to ALL. Grafana is public, so that is a path to every
credential in the cluster.
"""
from typing import List, Mapping

from ..props import as_list, as_map, as_str, child, subject

RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
SIDECARS = ("dashboards", "datasources", "notifiers", "alerts", "plugins")


def _grafana_values(props: Mapping) -> Mapping:
    chart = (as_str(child(props, "chart")) or "").rsplit("/", 1)[-1]
    values = as_map(child(props, "values"))
    if chart.startswith("kube-prometheus-stack"):
        return as_map(child(values, "grafana"))
    if chart.startswith("grafana"):
        return values
    return {}


def searched(value) -> List[str]:
    """The namespaces a sidecar's `searchNamespace` names: a string (comma-separated, as the sidecar reads
    it), or a list of them; `ALL` is every namespace."""
    values = [value] if isinstance(value, str) else [child(value, i) for i in range(len(as_list(value)))]
    return [part.strip() for v in values if isinstance(v, str) for part in v.split(",") if part.strip()]


def check(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type not in RELEASE_TYPES:
        return []
    chart = (as_str(child(props, "chart")) or "").rsplit("/", 1)[-1]
    if not chart.startswith(("kube-prometheus-stack", "grafana")):
        return []
    grafana = _grafana_values(props)
    who = subject(resource_type, name)
    messages = []
    own = as_str(child(props, "namespace")) or "monitoring"
    for sidecar in SIDECARS:
        names = searched(child(grafana, "sidecar", sidecar, "searchNamespace"))
        others = [n for n in names if n != own]
        if others:
            shown = "ALL namespaces" if any(n.upper() == "ALL" for n in others) else ", ".join(others)
            messages.append(f'{who}: Grafana sidecar "{sidecar}" searches {shown} besides "{own}"; '
                            "search only the namespace that holds the dashboards")
    if chart.startswith("kube-prometheus-stack") and child(grafana, "sidecar", "dashboards", "searchNamespace") is None:
        messages.append(f"{who}: grafana.sidecar.dashboards.searchNamespace is unset, and kube-prometheus-stack's "
                        "default is ALL; set the namespace that holds the dashboards")
    if child(grafana, "rbac", "namespaced") is not True:
        messages.append(f"{who}: grafana.rbac.namespaced is not true, so the chart gives Grafana's sidecars a "
                        "ClusterRole reading every Secret in the cluster")
    return messages
