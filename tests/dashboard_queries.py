"""The dashboards' panel queries and the metric names each one selects (promql-parser AST), for the tests.

Shared by tests/stack (every name is in manifests/metrics.yaml) and tests/rehearsal (every query that
needs no cluster-only exporter returns data from a real Prometheus scraping the rehearsal).
"""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser
import yaml

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((REPO / "manifests" / "dashboards").glob("*.json"))
METRICS = yaml.safe_load((REPO / "manifests" / "metrics.yaml").read_text())
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
# Grafana's interval variables are not PromQL; give the parser a literal range instead.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def metric_names(expr) -> set[str]:
    """Every metric a parsed PromQL expression selects (walks the promql-parser AST)."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                found.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    found.add(matcher.value)
            return
        for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(expr)
    return found


def panel_queries(path: Path):
    dashboard = json.loads(path.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def with_intervals(expr: str, values: dict[str, str] = GRAFANA_VARS) -> str:
    """The query with Grafana's interval variables replaced by literal ranges."""
    for var, value in values.items():
        expr = expr.replace(var, value)
    return expr


def parse(expr: str):
    return promql_parser.parse(with_intervals(expr))


def series_group(name: str) -> str | None:
    """The metrics.yaml group (exporter) a series belongs to, histogram series included."""
    for group_name, group in METRICS["groups"].items():
        metrics = group["metrics"]
        if name in metrics:
            return group_name
        for suffix in HISTOGRAM_SERIES:
            if name.endswith(suffix) and metrics.get(name[: -len(suffix)]) == "histogram":
                return group_name
    return None


ALL_QUERIES = [(path.name, title, expr) for path in DASHBOARDS for title, expr in panel_queries(path)]
