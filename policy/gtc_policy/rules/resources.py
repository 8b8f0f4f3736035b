"""Every container declares cpu and memory requests and limits.

Without requests the scheduler packs blind and the GPU node's CPU/memory can be starved by a neighbour;
without limits one runaway container can evict the inference workers mid-demo.
"""
from typing import List, Mapping

from ..props import has_key, subject
from ..workloads import pod_views

REQUIRED_KEYS = ("cpu", "memory")


def check(resource_type: str, name: str, props: Mapping) -> List[str]:
    messages = []
    for pod in pod_views(resource_type, props):
        for container in pod.containers:
            missing = [f"resources.{side}.{key}"
                       for side, values in (("requests", container.requests), ("limits", container.limits))
                       for key in REQUIRED_KEYS if not has_key(values, key)]
            if missing:
                messages.append(f"{subject(resource_type, name)}: {container.where} is missing "
                                f"{', '.join(missing)}")
    return messages
