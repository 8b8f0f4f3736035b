"""STAND-INS for two controllers that run as containers on DOKS: they only report status, nothing else.

No container runs on the local cluster, so nothing would ever report the status `pulumi up` waits on:

- the Dynamo operator: the DGD's `Ready` condition (`pulumi.com/waitFor: condition=Ready`). The real
  operator's Go module (github.com/ai-dynamo/dynamo/deploy/operator) is refused by the Go module
  proxy reachable here. The stand-in sets only `Ready` (and the `state` the CRD requires) and creates
  none of the operator's children: what the e2e checks about the DGD is that its real CRD accepted
  the object the program sent.
- Cilium's Gateway API controller (DOKS's, a container): a Gateway's `Accepted`/`Programmed`
  (`pulumi.com/waitFor: condition=Programmed`) and each HTTPRoute's `Accepted`/`ResolvedRefs` for
  the Gateways it names.

Every condition it writes has reason `LocalStandIn`, through the status subresource (so the real
CRD schemas validate it).

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
GATEWAY_GROUP, GATEWAY_VERSION = "gateway.networking.k8s.io", "v1"
GATEWAY_MESSAGE = "set by the gtc-demo stand-in for Cilium's Gateway controller (no containers run locally)"
CONTROLLER_NAME = "io.cilium/gateway-controller"


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


def _conditions(types: tuple[str, ...], generation: int) -> list[dict]:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{"type": t, "status": "True", "reason": REASON, "message": GATEWAY_MESSAGE,
             "lastTransitionTime": now, "observedGeneration": generation} for t in types]


def _has(conditions: list[dict], types: tuple[str, ...], generation: int) -> bool:
    return all(any(c.get("type") == t and c.get("status") == "True" and c.get("observedGeneration") == generation
                   for c in conditions) for t in types)


def reconcile_gateways(custom: client.CustomObjectsApi) -> None:
    try:
        gateways = custom.list_cluster_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, "gateways").get("items", [])
        routes = custom.list_cluster_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, "httproutes").get("items", [])
    except ApiException as exc:
        if exc.status == 404:  # the Gateway API CRDs are not installed (yet)
            return
        raise
    for gw in gateways:
        meta, gen = gw["metadata"], gw["metadata"].get("generation")
        if meta.get("deletionTimestamp") or _has((gw.get("status") or {}).get("conditions") or [],
                                                 ("Accepted", "Programmed"), gen):
            continue
        custom.patch_namespaced_custom_object_status(
            GATEWAY_GROUP, GATEWAY_VERSION, meta["namespace"], "gateways", meta["name"],
            {"status": {"conditions": _conditions(("Accepted", "Programmed"), gen)}})
        print(f"[standins] Gateway {meta['namespace']}/{meta['name']} Accepted, Programmed", flush=True)
    for route in routes:
        meta, gen = route["metadata"], route["metadata"].get("generation")
        parents = (route.get("status") or {}).get("parents") or []
        if meta.get("deletionTimestamp") or (parents and all(
                _has(p.get("conditions") or [], ("Accepted", "ResolvedRefs"), gen) for p in parents)):
            continue
        status = {"parents": [{"parentRef": ref, "controllerName": CONTROLLER_NAME,
                               "conditions": _conditions(("Accepted", "ResolvedRefs"), gen)}
                              for ref in route["spec"].get("parentRefs", [])]}
        custom.patch_namespaced_custom_object_status(
            GATEWAY_GROUP, GATEWAY_VERSION, meta["namespace"], "httproutes", meta["name"], {"status": status})
        print(f"[standins] HTTPRoute {meta['namespace']}/{meta['name']} Accepted", flush=True)


def reconcile_once(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    reconcile_gateways(custom)
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
