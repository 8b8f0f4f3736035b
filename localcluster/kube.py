"""Small Kubernetes API calls made from inside the cluster's network namespace (Python client, no kubectl).

    python -m localcluster.kube KUBECONFIG ready|nodes-ready|apply|create|established NAME...
    (apply reads nodes, create CRDs and cluster-scoped custom objects, as {"items": [...]} on stdin)
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


def create_objects(kubeconfig: str, items: list[dict]) -> None:
    """Create CRDs, namespaces and cluster-scoped custom objects; one that exists already is left as it is."""
    client_ = api(kubeconfig)
    for obj in items:
        try:
            if obj["kind"] == "CustomResourceDefinition":
                client.ApiextensionsV1Api(client_).create_custom_resource_definition(obj)
            elif obj["kind"] == "Namespace":
                client.CoreV1Api(client_).create_namespace(obj)
            else:
                group, version = obj["apiVersion"].split("/")
                kind = obj["kind"].lower()
                plural = f"{kind}es" if kind.endswith("s") else f"{kind}s"  # GatewayClass -> gatewayclasses
                client.CustomObjectsApi(client_).create_cluster_custom_object(group, version, plural, obj)
        except ApiException as exc:
            if exc.status != 409:
                raise


def established(kubeconfig: str, names: list[str]) -> bool:
    """Every named CRD exists and is Established."""
    crds = client.ApiextensionsV1Api(api(kubeconfig))
    for name in names:
        try:
            crd = crds.read_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        if not any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])):
            return False
    return True


def main(argv: list[str]) -> int:
    kubeconfig, verb = argv[0], argv[1]
    if verb == "ready":
        return 0 if ready(kubeconfig) else 1
    if verb == "nodes-ready":
        return 0 if nodes_ready(kubeconfig) else 1
    if verb == "apply":
        apply_nodes(kubeconfig, json.load(sys.stdin)["items"])
        return 0
    if verb == "create":
        create_objects(kubeconfig, json.load(sys.stdin)["items"])
        return 0
    if verb == "established":
        return 0 if established(kubeconfig, argv[2:]) else 1
    print(f"unknown verb {verb!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
