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
