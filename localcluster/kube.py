"""Small Kubernetes API calls made from inside the cluster's network namespace (Python client, no kubectl).

    python -m localcluster.kube KUBECONFIG ready|nodes-ready|apply   (apply reads {"items": [...]} on stdin)
"""

from __future__ import annotations

import json
import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException


def api(kubeconfig: str) -> client.ApiClient:
    return config.new_client_from_config(config_file=kubeconfig)


def ready(kubeconfig: str) -> bool:
    try:
        body = client.ApiClient.call_api(api(kubeconfig), "/readyz", "GET", auth_settings=["BearerToken"],
                                         response_type="str", _return_http_data_only=True, _request_timeout=2)
        return body == "ok"
    except Exception:
        return False


def nodes_ready(kubeconfig: str) -> bool:
    nodes = client.CoreV1Api(api(kubeconfig)).list_node().items
    return len(nodes) >= 2 and all(
        any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or [])) for n in nodes)


def apply_nodes(kubeconfig: str, items: list[dict]) -> None:
    core = client.CoreV1Api(api(kubeconfig))
    for node in items:
        try:
            core.create_node(node)
        except ApiException as exc:
            if exc.status != 409:
                raise


def main(argv: list[str]) -> int:
    kubeconfig, verb = argv[0], argv[1]
    if verb == "ready":
        return 0 if ready(kubeconfig) else 1
    if verb == "nodes-ready":
        return 0 if nodes_ready(kubeconfig) else 1
    if verb == "apply":
        apply_nodes(kubeconfig, json.load(sys.stdin)["items"])
        return 0
    print(f"unknown verb {verb!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
