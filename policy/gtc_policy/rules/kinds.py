"""Only kinds the pack can read may run pods, and nothing patches objects the program does not own.

The pod rules read a pod template where each kind keeps it (gtc_policy/workloads.py). A kind they do not
know (a ReplicationController, a ReplicaSet, a PodTemplate, a custom resource that carries containers)
would run pods nobody checked, so only the kinds the program and its charts deploy may carry pods. A
`*Patch` resource (Server-Side Apply on an object another tool owns: `DeploymentPatch` on cert-manager)
changes a workload field by field; the pack never sees the whole object it produces, so none is allowed.
"""
from collections.abc import Mapping as MappingABC, Sequence
from typing import Any, List, Mapping

from ..props import as_str, child, subject
from ..workloads import DGD_V1BETA1_TYPE

ALLOWED_POD_KINDS = {
    "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", DGD_V1BETA1_TYPE,
    # kube-prometheus-stack's Prometheus and Alertmanager (read as pods: workloads.POD_SPEC_PATHS)
    "kubernetes:monitoring.coreos.com/v1:Prometheus", "kubernetes:monitoring.coreos.com/v1:Alertmanager",
}
MAX_DEPTH = 10


def _carries_containers(value: Any, depth: int = 0) -> bool:
    """Is there a `containers` list of objects with an `image` anywhere in `value`?"""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, MappingABC):
        for key in list(value):
            try:
                item = value[key]
            except Exception:  # noqa: BLE001 - an unknown during preview: nothing to read there yet
                continue
            if key == "containers" and isinstance(item, Sequence) and not isinstance(item, str) and \
                    any(isinstance(c, MappingABC) and "image" in list(c) for c in item):
                return True
            if _carries_containers(item, depth + 1):
                return True
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return any(_carries_containers(item, depth + 1) for item in value)
    return False


def check(resource_type: str, name: str, props: Mapping) -> List[str]:
    if not resource_type.startswith("kubernetes:") or resource_type.startswith("kubernetes:helm.sh/"):
        return []
    kind = resource_type.rsplit(":", 1)[-1]
    if kind.endswith("Patch"):
        target = as_str(child(props, "metadata", "name")) or "?"
        return [f"{subject(resource_type, name)}: patches {kind[:-len('Patch')]} {target!r}, an object the program does "
                "not own, field by field (no rule sees the object it produces); declare the whole object, or change "
                "the chart's values"]
    if resource_type in ALLOWED_POD_KINDS or not _carries_containers(props):
        return []
    return [f"{subject(resource_type, name)}: a {kind} runs pods, and only "
            f"{', '.join(sorted(k.rsplit(':', 1)[-1] for k in ALLOWED_POD_KINDS))} may (the kinds the pod rules read); "
            "use a Deployment or a Job"]
