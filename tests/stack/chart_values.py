"""Which values keys a packaged Helm chart has: its values.yaml and values.schema.json, with every
subchart's under its name (or alias), so a key the program sets can be checked against the chart.

A key under a free-form map is not checked: a map whose default is empty (`nodeSelector: {}`,
`podAnnotations: {}`) or null takes any keys, and so do the maps listed in FREE_FORM (config files the
chart passes through verbatim).
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any, Iterator

import yaml

# (chart, dotted path) of non-empty defaults that are nevertheless free-form: config files the chart
# renders verbatim, whose keys belong to the program inside (Grafana), not to the chart.
FREE_FORM = {
    ("grafana", "grafana.ini"),  # kube-prometheus-stack's grafana subchart: grafana.ini, rendered verbatim
}
OPEN = object()  # marker: anything may be set below this key


class ChartValues:
    """The tree of keys a chart (and its subcharts) accepts."""

    def __init__(self, name: str, tree: dict[str, Any]):
        self.name = name
        self.tree = tree

    @classmethod
    def from_archive(cls, data: bytes) -> "ChartValues":
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
        root = sorted(files)[0].split("/", 1)[0]
        return cls(_chart_name(files, root), _tree(files, root))

    def unknown_keys(self, values: dict[str, Any]) -> list[str]:
        """Dotted paths of keys in `values` the chart does not have (outside free-form maps)."""
        return sorted(_unknown(values, self.tree, ""))


def _chart_name(files: dict[str, bytes], root: str) -> str:
    return yaml.safe_load(files[f"{root}/Chart.yaml"])["name"]


def _tree(files: dict[str, bytes], root: str) -> dict[str, Any]:
    """Keys of the chart at `root` (inside the archive): values.yaml, values.schema.json, subcharts."""
    chart = _chart_name(files, root)
    values = yaml.safe_load(files.get(f"{root}/values.yaml", b"") or b"{}") or {}
    tree = _from_values(values, chart, "")
    schema = files.get(f"{root}/values.schema.json")
    if schema:
        _merge(tree, _from_schema(json.loads(schema)))
    meta = yaml.safe_load(files[f"{root}/Chart.yaml"])
    for dependency in meta.get("dependencies") or []:
        sub_root = _subchart_root(files, root, dependency["name"])
        if sub_root is None:
            continue  # not vendored (the dynamo-platform archive dropped its optional subcharts)
        key = dependency.get("alias") or dependency["name"]
        sub_tree = _tree(*sub_root) if isinstance(sub_root, tuple) else _tree(files, sub_root)
        existing = tree.get(key)
        tree[key] = sub_tree if not isinstance(existing, dict) else _merge(sub_tree, existing)
    tree.setdefault("global", OPEN)  # every chart takes `global`; subcharts read what they know of it
    return tree


def _subchart_root(files: dict[str, bytes], root: str, name: str):
    if f"{root}/charts/{name}/Chart.yaml" in files:
        return f"{root}/charts/{name}"
    for path, data in files.items():  # a packaged subchart: charts/<name>-<version>.tgz
        if path.startswith(f"{root}/charts/{name}-") and path.endswith(".tgz"):
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                inner = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
            return (inner, sorted(inner)[0].split("/", 1)[0])
    return None


def _from_values(node: Any, chart: str, path: str) -> Any:
    if isinstance(node, dict):
        if not node or (chart, path) in FREE_FORM:
            return OPEN
        return {k: _from_values(v, chart, f"{path}.{k}" if path else k) for k, v in node.items()}
    if node is None:
        return OPEN
    return None  # a scalar or a list: set it whole, nothing to check below


def _from_schema(schema: dict[str, Any]) -> Any:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return OPEN if schema.get("type") in ("object", None) else None
    tree = {k: _from_schema(v) for k, v in properties.items()}
    if schema.get("additionalProperties") not in (None, False):
        return OPEN
    return tree


def _merge(into: Any, other: Any) -> Any:
    if into is OPEN or other is OPEN:
        return OPEN
    if isinstance(into, dict) and isinstance(other, dict):
        for key, value in other.items():
            into[key] = _merge(into[key], value) if key in into else value
    return into


def _unknown(values: Any, tree: Any, prefix: str) -> Iterator[str]:
    if tree is OPEN or not isinstance(values, dict) or not isinstance(tree, dict):
        return
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in tree:
            yield path
        else:
            yield from _unknown(value, tree[key], path)
