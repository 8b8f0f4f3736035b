"""Small Kubernetes building blocks every component uses the same way."""

from __future__ import annotations

import pulumi_kubernetes as k8s

PART_OF = {"app.kubernetes.io/part-of": "gtc-demo"}


def secret_env(name: str, secret: str, key: str, optional: bool = False) -> k8s.core.v1.EnvVarArgs:
    """An env var read from a Secret at run time, so no credential is a literal in the pod spec."""
    return k8s.core.v1.EnvVarArgs(name=name, value_from=k8s.core.v1.EnvVarSourceArgs(
        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key, optional=optional or None)))


def restricted_security_context() -> k8s.core.v1.SecurityContextArgs:
    """No privilege escalation, read-only root filesystem, no Linux capabilities."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


# Pods that may call the Dynamo frontends (the load generator, the verification Job); NetworkPolicies select it.
FRONTEND_CLIENT = {"gtc-demo/frontend-client": "true"}
# Role of a DynamoGraphDeployment pod (frontend | worker), set on each component's pod template.
GRAPH_ROLE = "gtc-demo/graph-role"
GRAPH_COMPONENT = "gtc-demo/graph-component"  # the component's name, lower-cased: one frontend at a time
LOADGEN_SELECTOR = {"app.kubernetes.io/name": "loadgen"}
LOADGEN_PUBLIC_PORT, LOADGEN_INTERNAL_PORT = 3000, 9090
PIPELINE_SELECTOR = {"app.kubernetes.io/component": "model-pipeline"}
VERIFICATION_SELECTOR = {"app.kubernetes.io/name": "verification"}
# The Prometheus pods: kube-prometheus-stack names its Prometheus resource `<release>-prometheus`, and the
# Prometheus Operator labels every pod of a Prometheus resource with operator.prometheus.io/name (its
# documented pod-selection label). The only pods allowed to metrics ports.
PROMETHEUS_NAME = "kube-prometheus-stack-prometheus"
PROMETHEUS_POD = {"operator.prometheus.io/name": PROMETHEUS_NAME}
# The graph's ports: the frontends' OpenAI API (and their /metrics), the workers' system server (/health,
# /live, /metrics; the operator's default DYN_SYSTEM_PORT). components/dgd.py sets them on the pods.
FRONTEND_PORT = 8000
SYSTEM_PORT = 9090
GRAPH_METRICS_PORTS = (FRONTEND_PORT, SYSTEM_PORT)


def restricted_pod_security(run_as_user: int, run_as_group: int | None = None) -> dict:
    """Pod-level securityContext of the restricted Pod Security Standard, as a plain dict (DGD pod templates)."""
    context = {"runAsNonRoot": True, "runAsUser": run_as_user, "seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_group is not None:
        context["runAsGroup"] = run_as_group
    return context


def restricted_container_security(read_only_root: bool = True) -> dict:
    """Container-level securityContext as a plain dict; same meaning as restricted_security_context()."""
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": read_only_root,
            "capabilities": {"drop": ["ALL"]}}
