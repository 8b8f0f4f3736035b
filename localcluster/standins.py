"""STAND-IN for the one controller that runs as a container on DOKS and cannot run here: it only reports status.

The Dynamo operator: the DGD's `Ready` condition (`pulumi.com/waitFor: condition=Ready`). The newest
operator source reachable (a fork's snapshot at 1.1.0-dev) predates the v1beta1 DGD the program sends, so it
cannot reconcile it. The stand-in sets only `Ready` (and the `state` the CRD requires) and creates none of the
operator's children: what the e2e checks about the DGD is that its real CRD accepted the object the program sent.
Its condition has reason `LocalStandIn`, written through the status subresource (so the real CRD schema
validates it). Cilium's Gateway controller is not stood in for: its real operator runs (localcluster/cilium.py).

    python -m localcluster.standins KUBECONFIG     (runs until killed; `localcluster up` starts it)
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, PLURAL = "nvidia.com", "dynamographdeployments"
REASON = "LocalStandIn"
MESSAGE = "set by the gtc-demo stand-in for the Dynamo operator (no containers run on the local cluster)"


def served_version(api: client.ApiClient) -> str | None:
    """The CRD's storage version, once the CRD exists (it arrives with the platform's Helm release)."""
    try:
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return next(v.name for v in crd.spec.versions if v.storage)


def is_ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    generation = obj["metadata"].get("generation")
    return status.get("observedGeneration") == generation and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def mark_ready(custom: client.CustomObjectsApi, version: str, obj: dict) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    generation = obj["metadata"].get("generation")
    status = {"state": "successful", "observedGeneration": generation, "conditions": [{
        "type": "Ready", "status": "True", "reason": REASON, "message": MESSAGE,
        "lastTransitionTime": now, "observedGeneration": generation}]}
    custom.patch_namespaced_custom_object_status(
        GROUP, version, obj["metadata"]["namespace"], PLURAL, obj["metadata"]["name"], {"status": status})
    print(f"[standins] {obj['metadata']['namespace']}/{obj['metadata']['name']} marked Ready "
          f"(generation {generation})", flush=True)


def reconcile_once(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    version = served_version(api)
    if version is None:
        return
    for obj in custom.list_cluster_custom_object(GROUP, version, PLURAL).get("items", []):
        if not is_ready(obj) and not obj["metadata"].get("deletionTimestamp"):
            mark_ready(custom, version, obj)


def main(argv: list[str]) -> int:
    api = config.new_client_from_config(config_file=argv[0])
    while True:
        try:
            reconcile_once(api)
        except Exception as exc:  # the API server restarting, the CRD being replaced: try again
            print(f"[standins] retrying after: {exc}", file=sys.stderr, flush=True)
        time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
