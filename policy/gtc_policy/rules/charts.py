"""Charts are inside the fence: every resource rule also reads what each Helm release renders.

Each release is rendered with the real chart and the stack's values (gtc_policy/charts.py). A chart may
need what the program may not (node-exporter reads the node through hostPath and host namespaces,
cert-manager reads Secrets in every namespace to issue certificates): those findings, for the pinned
chart version and the program's values, were reviewed one by one and are listed with the reason in
policy/chart-baseline.json. Any other finding, a value that opens a node port or a host namespace or a
version that grants more, is refused before `up`. A release the pack cannot render is refused too.
"""
import json
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

from pulumi_policy.proxy import UnknownValueError

from ..charts import RenderError, render, resource_type as rendered_type
from ..props import as_str, child, raw_value, subject
from .cluster_access import stack_of

RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release",)
BASELINE_FILE = Path(__file__).resolve().parents[2] / "chart-baseline.json"
Rule = Tuple[str, Callable[[str, str, Mapping], List[str]]]


def baseline() -> Dict[str, Dict[str, set]]:
    """release -> rule -> the accepted messages."""
    data = json.loads(BASELINE_FILE.read_text())["releases"]
    return {release: {rule: set(entry["accepted"]) for rule, entry in rules.items()} for release, rules in data.items()}


def findings(objects: List[dict], rules: Sequence[Rule]) -> List[Tuple[str, str]]:
    """(rule, message) for every rendered object, named `<namespace>/<name>`."""
    found = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        for rule, check in rules:
            found += [(rule, message) for message in check(rendered_type(obj), name, obj)]
    return found


def check(resource_type: str, name: str, props: Mapping, urn: str, rules: Sequence[Rule]) -> List[str]:
    if resource_type not in RELEASE_TYPES:
        return []
    try:
        release = as_str(child(props, "name")) or name
        namespace = as_str(child(props, "namespace")) or "default"
        chart, version = as_str(child(props, "chart")) or "", as_str(child(props, "version"))
    except UnknownValueError:
        return []  # decided at `up`
    try:
        objects = render(chart, version, release, namespace, raw_value(props, "values") or {}, stack_of(urn) or "dev")
    except RenderError as error:
        return [f"{subject(resource_type, name)}: cannot render what it installs, so no rule can check it: {error}"]
    accepted = baseline().get(release, {})
    return [f"{subject(resource_type, name)} renders {message} [{rule}]"
            for rule, message in findings(objects, rules) if message not in accepted.get(rule, set())]
