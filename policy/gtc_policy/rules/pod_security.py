"""Every pod we author meets the Kubernetes "restricted" Pod Security Standard: non-root, no privilege
escalation, all capabilities dropped (none added), a seccomp profile, no host namespaces.

PSA on the namespaces enforces only `baseline` where operators complete our pod specs (docs/security.md); this
rule holds what we write to `restricted`, before anything reaches the cluster. It covers Deployments, Jobs,
Pods and each DynamoGraphDeployment component (the frontends, the workers, the rehearsal's mocker).
"""
from typing import Any, List, Mapping, Optional

from ..props import as_list, as_str, child, subject
from ..workloads import PodView, pod_views

SECCOMP_OK = ("RuntimeDefault", "Localhost")


def _effective(container: Mapping, pod: Mapping, *path: str) -> Any:
    """A container field, falling back to the pod-level securityContext (as Kubernetes does)."""
    value = child(container, *path)
    return value if value is not None else child(pod, *path)


def pod_problems(pod: PodView) -> List[str]:
    problems = [f"{key}: true shares the node's namespace" for key in pod.host_namespaces]
    for container in pod.containers:
        sc, psc = container.security_context, pod.security_context
        missing = []
        if _effective(sc, psc, "runAsNonRoot") is not True:
            missing.append("runAsNonRoot: true")
        if child(sc, "allowPrivilegeEscalation") is not False:
            missing.append("allowPrivilegeEscalation: false")
        dropped = [as_str(c) for c in as_list(child(sc, "capabilities", "drop"))]
        if "ALL" not in dropped:
            missing.append('capabilities.drop: ["ALL"]')
        seccomp: Optional[str] = as_str(_effective(sc, psc, "seccompProfile", "type"))
        if seccomp not in SECCOMP_OK:
            missing.append("seccompProfile.type: RuntimeDefault")
        if missing:
            problems.append(f"{container.where} lacks securityContext {', '.join(missing)}")
        added = [as_str(c) for c in as_list(child(sc, "capabilities", "add"))]
        if added:
            problems.append(f"{container.where} adds capabilities {added}")
        if child(sc, "privileged") is True:
            problems.append(f"{container.where} is privileged")
    return problems


def check(resource_type: str, name: str, props: Mapping) -> List[str]:
    messages = []
    for pod in pod_views(resource_type, props):
        where = f"{subject(resource_type, name)}{': ' + pod.where if pod.where else ''}"
        messages += [f"{where}: {problem}" for problem in pod_problems(pod)]
    return messages
