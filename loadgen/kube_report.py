"""Write the check's report into one ConfigMap through the Kubernetes API, from inside a pod.

Why a ConfigMap: the Pulumi program creates it (empty) with the verification Job and reads it back
after the Job completed (`ConfigMap.get`), so the verdict and numbers become stack outputs; the
Job's ServiceAccount may `get` and `patch` that one ConfigMap and nothing else. One JSON merge
patch with the pod's own service-account token is all this needs, so no Kubernetes client library
goes into the image.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import httpx

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def api_server() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise RuntimeError("--report-configmap works only inside a pod (KUBERNETES_SERVICE_HOST is not set)")
    return f"https://{host}:{port}"


def write_configmap_report(namespace: str, name: str, data: dict[str, str], account: Path = SERVICE_ACCOUNT,
                           server: str | None = None) -> None:
    """Merge `data` into ConfigMap namespace/name; raises on any API error (the check then fails loudly)."""
    token = (account / "token").read_text().strip()
    response = httpx.patch(
        f"{server or api_server()}/api/v1/namespaces/{namespace}/configmaps/{name}",
        json={"data": data},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"},
        verify=ssl.create_default_context(cafile=str(account / "ca.crt")),
        timeout=15.0,
    )
    response.raise_for_status()
