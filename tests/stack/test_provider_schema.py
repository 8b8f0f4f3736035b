"""Provider skew, checked: everything the program sends the DigitalOcean provider exists in the schema of
the provider that runs here.

The Python SDK is pinned at pulumi-digitalocean 4.84.1; the provider binary the real previews run is 4.76.0,
built from vendor/go-src (the newest source reachable offline). The engine only warns about the gap, and a
resource type or input the older provider lacks would be dropped or refused there. So each resource type,
input (nested objects too) and look-up the dev and prod programs register is looked up in the 4.76.0
schema the binary embeds (its `schema.json`, written into the binary by `go generate`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.stack.plan import REPO, Resource, unwrap

SCHEMA = REPO / "vendor/go-src/pulumi-digitalocean/provider/cmd/pulumi-resource-digitalocean/schema.json"


@functools.lru_cache(maxsize=None)
def schema() -> dict:
    return json.loads(Path(SCHEMA).read_text())


def _object_type(spec: dict) -> dict | None:
    """The object type a property refers to (directly, or as the items/values of an array/map)."""
    for candidate in (spec, spec.get("items") or {}, spec.get("additionalProperties") or {}):
        ref = candidate.get("$ref", "")
        if ref.startswith("#/types/"):
            return schema()["types"].get(ref.removeprefix("#/types/"))
    return None


def missing_inputs(properties: dict, value: Any, where: str) -> Iterator[str]:
    """`where.key` for every key of `value` the schema's `properties` lacks, nested objects included."""
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        spec = properties.get(key)
        if spec is None:
            yield f"{where}.{key}"
            continue
        nested = _object_type(spec)
        if nested is None or "properties" not in nested:
            continue
        items = item if isinstance(item, list) else list(item.values()) if (
            isinstance(item, dict) and "additionalProperties" in spec) else [item]
        for element in items:
            yield from missing_inputs(nested["properties"], element, f"{where}.{key}")


def skew(resources: list[Resource], invokes: list[dict]) -> list[str]:
    found = []
    for resource in resources:
        if not resource.custom or not resource.type.startswith("digitalocean:"):
            continue
        spec = schema()["resources"].get(resource.type)
        if spec is None:
            found.append(f"resource type {resource.type} ({resource.name})")
            continue
        found += [f"{resource.type} input {path}"
                  for path in missing_inputs(spec.get("inputProperties", {}), unwrap(resource.inputs), resource.name)]
    for invoke in invokes:
        if not invoke["token"].startswith("digitalocean:"):
            continue
        spec = schema()["functions"].get(invoke["token"])
        if spec is None:
            found.append(f"look-up {invoke['token']}")
            continue
        found += [f"{invoke['token']} argument {path}" for path in missing_inputs(
            (spec.get("inputs") or {}).get("properties", {}), invoke["args"], invoke["token"].rsplit(":", 1)[-1])]
    return found


def test_the_schema_is_the_built_providers():
    assert "digitalocean:index/kubernetesCluster:KubernetesCluster" in schema()["resources"]
    assert (REPO / "localcluster/tools.py").read_text().count('DIGITALOCEAN_VERSION = "4.76.0"') == 1


def test_every_type_input_and_look_up_exists_in_the_running_provider(stack_plan):
    used = [r for r in stack_plan.resources if r.type.startswith("digitalocean:") and r.custom]
    assert len(used) >= 5, "the plan registers the DigitalOcean layer"
    assert skew(stack_plan.resources, stack_plan.invokes) == []


CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"


@pytest.mark.parametrize("resource_type,inputs,named", [
    ("digitalocean:index/gpuCluster:GpuCluster", {}, "resource type digitalocean:index/gpuCluster:GpuCluster (k)"),
    (CLUSTER, {"name": "k", "gpuAutoscale": True}, f"{CLUSTER} input k.gpuAutoscale"),
    (CLUSTER, {"nodePool": {"name": "m", "size": "s-2vcpu-4gb", "burstNodes": 2}}, f"{CLUSTER} input k.nodePool.burstNodes"),
])
def test_a_type_or_input_the_provider_lacks_is_named(resource_type, inputs, named):
    resource = Resource(type=resource_type, name="k", urn="u", parent="", custom=True, provider="", inputs=inputs,
                        dependencies=[], property_dependencies={}, options={})
    assert skew([resource], []) == [named]
