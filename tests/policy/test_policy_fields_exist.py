"""The fields the policy pack's reach rules read exist where they read them, in the real CRDs the program is
checked against (vendored: Gateway API v1.2.1, Cilium v1.18.4): a rule reading a misspelt field passes
everything, so each path is looked up in the published schema."""
import gzip

import pytest
import yaml

from policy_harness import REPO

CRDS = REPO / "vendor" / "crds"


def schema(file: str, kind: str, version: str) -> dict:
    for doc in yaml.safe_load_all(gzip.decompress((CRDS / file).read_bytes()).decode()):
        if doc and doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
            return next(v for v in doc["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{kind} {version} not in {file}")


def has_path(node: dict, path: list[str]) -> bool:
    for key in path:
        if key == "[]":
            node = node.get("items", {})
            continue
        props = node.get("properties", {})
        if key not in props:
            return False
        node = props[key]
    return True


GATEWAY_API = "gateway-api-v1.2.1-standard-crds.yaml.gz"
CILIUM = "cilium-v1.18.4-ciliumnetworkpolicies.yaml.gz"


@pytest.mark.parametrize("file,kind,version,path", [
    (GATEWAY_API, "Gateway", "v1", ["spec", "listeners", "[]", "allowedRoutes", "namespaces", "from"]),
    (GATEWAY_API, "Gateway", "v1", ["spec", "listeners", "[]", "protocol"]),
    (GATEWAY_API, "HTTPRoute", "v1", ["spec", "parentRefs", "[]", "sectionName"]),
    (GATEWAY_API, "HTTPRoute", "v1", ["spec", "rules", "[]", "backendRefs", "[]", "name"]),
    (GATEWAY_API, "HTTPRoute", "v1", ["spec", "rules", "[]", "filters", "[]", "requestMirror", "backendRef", "name"]),
    (GATEWAY_API, "HTTPRoute", "v1", ["spec", "rules", "[]", "backendRefs", "[]", "filters", "[]", "requestMirror",
                                     "backendRef", "namespace"]),
    (CILIUM, "CiliumNetworkPolicy", "v2", ["spec", "endpointSelector"]),
    (CILIUM, "CiliumNetworkPolicy", "v2", ["spec", "ingress", "[]", "fromEntities"]),
    (CILIUM, "CiliumNetworkPolicy", "v2", ["spec", "ingress", "[]", "fromCIDR"]),
    (CILIUM, "CiliumNetworkPolicy", "v2", ["spec", "ingress", "[]", "fromCIDRSet", "[]", "cidr"]),
    (CILIUM, "CiliumNetworkPolicy", "v2", ["spec", "ingress", "[]", "toPorts"]),
    (CILIUM, "CiliumNetworkPolicy", "v2", ["specs", "[]", "ingress"]),
])
def test_a_field_the_pack_reads_is_in_the_published_schema(file, kind, version, path):
    assert has_path(schema(file, kind, version), path), f"{kind}/{version} has no {'.'.join(path)}"


def test_the_lookup_can_fail():
    assert not has_path(schema(CILIUM, "CiliumNetworkPolicy", "v2"), ["spec", "ingress", "[]", "fromEntity"])
