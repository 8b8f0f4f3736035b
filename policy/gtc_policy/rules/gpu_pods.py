"""Pods that ask for a GPU tolerate the DOKS GPU taint and run with RuntimeClass `nvidia`.

DOKS taints GPU nodes `nvidia.com/gpu:NoSchedule`: without the toleration the pod stays Pending; without
the `nvidia` runtime the container starts but sees no GPU (and KAI on DOKS needs the RuntimeClass).
"""
from typing import Any, List, Mapping

from ..props import as_str, child, subject
from ..workloads import GPU_RESOURCE, pod_views

GPU_TAINT_KEY = GPU_RESOURCE
GPU_TAINT_VALUE = ""
GPU_TAINT_EFFECT = "NoSchedule"
GPU_RUNTIME_CLASS = "nvidia"


def tolerates_gpu_taint(toleration: Any) -> bool:
    """Kubernetes toleration matching against the taint nvidia.com/gpu:NoSchedule (no value)."""
    key = as_str(child(toleration, "key")) or ""
    operator = as_str(child(toleration, "operator")) or "Equal"
    effect = as_str(child(toleration, "effect")) or ""
    if effect not in ("", GPU_TAINT_EFFECT):
        return False
    if operator == "Exists":
        return key in ("", GPU_TAINT_KEY)
    return key == GPU_TAINT_KEY and (as_str(child(toleration, "value")) or "") == GPU_TAINT_VALUE


def check(resource_type: str, name: str, props: Mapping) -> List[str]:
    messages = []
    for pod in pod_views(resource_type, props):
        if not pod.gpus:
            continue
        where = f"{subject(resource_type, name)}{': ' + pod.where if pod.where else ''}"
        if not any(tolerates_gpu_taint(t) for t in pod.tolerations):
            keys = [as_str(child(t, "key")) for t in pod.tolerations]
            messages.append(f"{where} requests {GPU_RESOURCE} but does not tolerate the "
                            f"{GPU_TAINT_KEY}:{GPU_TAINT_EFFECT} taint (toleration keys: {keys})")
        if pod.runtime_class != GPU_RUNTIME_CLASS:
            shown = f'"{pod.runtime_class}"' if pod.runtime_class is not None else "unset"
            messages.append(f"{where} requests {GPU_RESOURCE} but runtimeClassName is {shown}; "
                            f'it must be "{GPU_RUNTIME_CLASS}"')
    return messages
