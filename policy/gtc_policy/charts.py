"""What a Helm release will install, rendered at preview with the real chart and the stack's values.

A `helm.v3.Release` reaches the pack as one resource: a chart reference and a values tree. What the
chart makes of them (a Grafana Service set to NodePort through `grafana.service.type`, a pod on
`hostNetwork`) is only visible rendered, so the pack renders each release with the same `helm template`
the rendered-diff job uses (tools/helm.py, loaded by path: it is the one place that runs helm) from the
vendored archive, and the resource rules read every object as if the program had declared it.

Values not known at preview, and Pulumi secrets, render as placeholder strings: a rule never needs a
credential's value, and a value known only at `up` is checked then. Rendered objects are cached by
what went in (archive bytes, values, versions), so a second preview of the same plan renders nothing.
"""
import functools
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any, List, Optional

import yaml
from pulumi_policy.proxy import UnknownValueError

from .props import is_secret, is_unknown

REPO = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO / "vendor" / "charts"
CACHE = Path(os.environ.get("GTC_DEMO_RENDER_CACHE", Path.home() / ".cache" / "gtc-demo" / "rendered"))
SECRET_PLACEHOLDER = "<secret>"
UNKNOWN_PLACEHOLDER = "<unknown until up>"


def _repo_module(name: str, relative: str):
    """A stdlib-only module of the program, loaded by path: the pack's venv does not install the program,
    and the fact it holds (how to run helm, which archive stands for which pinned chart) lives there once."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _helm_module():
    return _repo_module("gtc_demo_tools_helm", "tools/helm.py")


class RenderError(RuntimeError):
    """The release cannot be rendered here: no vendored archive, no helm, or helm refused the values."""


def archive(chart: str, version: Optional[str]) -> Path:
    """The vendored archive of a release's chart: its `./vendor/charts/x.tgz` path, or the archive that
    components/charts.py names for that chart at that pinned version (the nearest source reachable offline
    where the pinned release is not: vendor/README.md)."""
    if chart.endswith(".tgz"):
        path = (REPO / chart).resolve()
    else:
        pins = _repo_module("gtc_demo_components_charts", "components/charts.py").CHARTS.values()
        pin = next((p for p in pins if p.chart == chart.rsplit("/", 1)[-1] and p.version == version), None)
        path = pin.vendored_path if pin else CHARTS_DIR / f"{chart.rsplit('/', 1)[-1]}-{version}.tgz"
    if not path.is_file() or CHARTS_DIR.resolve() not in path.resolve().parents:
        raise RenderError(f"chart {chart!r} {version or ''} is not vendored under vendor/charts (make vendor-charts), "
                          "so what it installs cannot be checked")
    return path


def plain(value: Any, depth: int = 0) -> Any:
    """A values tree as plain data: secrets and values unknown at preview become placeholder strings."""
    if is_secret(value):
        return SECRET_PLACEHOLDER
    if depth > 32:
        return None
    if isinstance(value, Mapping):
        out = {}
        for key in list(value):
            try:
                out[key] = plain(value[key], depth + 1)
            except UnknownValueError:
                out[key] = UNKNOWN_PLACEHOLDER
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i], depth + 1))
            except UnknownValueError:
                items.append(UNKNOWN_PLACEHOLDER)
        return items
    if is_unknown(value):
        return UNKNOWN_PLACEHOLDER
    return value


@functools.cache
def kube_version(stack: str) -> str:
    """The stack's Kubernetes minor (`1.33.` -> `1.33.0`) from its committed file, as tools/render_charts does."""
    try:
        config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
        return str(config["gtc-demo:cluster"]["kubernetesVersionPrefix"]) + "0"
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "1.33.0"


def render(chart: str, version: Optional[str], release: str, namespace: str, values: Any, stack: str) -> List[dict]:
    """Every object the release installs (CRDs left out: they carry no pods or grants; test hooks too)."""
    path = archive(chart, version)
    values = plain(values)
    helm, version = _helm_module(), kube_version(stack)
    key = hashlib.sha256(json.dumps([hashlib.sha256(path.read_bytes()).hexdigest(), release, namespace, values,
                                     version, helm.API_VERSIONS], sort_keys=True, default=str).encode()).hexdigest()
    cached = CACHE / f"{key}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    try:
        objects = helm.template(path, release, namespace, values, version, helm.API_VERSIONS)
    except helm.HelmError as error:
        raise RenderError(str(error)) from None
    objects = [o for o in objects if isinstance(o, dict) and o.get("kind") != "CustomResourceDefinition"
               and not _is_test_hook(o)]
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(objects, default=str))
    tmp.replace(cached)
    return objects


def _is_test_hook(obj: dict) -> bool:
    """`helm test` pods: rendered by `helm template`, never installed by a release (Pulumi runs no tests)."""
    hooks = str(((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", ""))
    return "test" in [h.strip() for h in hooks.split(",")]


def resource_type(obj: dict) -> str:
    """`apps/v1` + `Deployment` -> `kubernetes:apps/v1:Deployment`; `v1` -> `kubernetes:core/v1:...`."""
    api_version = str(obj.get("apiVersion", ""))
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{obj.get('kind')}"
