"""Validate a custom resource against its CRD's OpenAPI schema, as the API server would for fields.

The API server prunes (or, with `kubectl --validate=strict` / server-side field validation, rejects)
fields a structural schema does not declare; here every undeclared field is an error, so a misspelt
or removed key fails with its path. A version the CRD does not serve, or serves as deprecated, is
refused. CEL rules (`x-kubernetes-validations`) are not evaluated offline (docs/architecture.md, "Checks that need
the network or a cluster").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable

import jsonschema


@dataclass(frozen=True)
class CrdVersion:
    group: str
    kind: str
    version: str
    served: bool
    deprecated: bool
    warning: str
    schema: dict[str, Any]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


class CrdCatalog:
    """Every version of every CRD given, looked up by (apiVersion, kind)."""

    def __init__(self, crds: Iterable[dict[str, Any]]):
        self.versions: dict[tuple[str, str], CrdVersion] = {}
        for crd in crds:
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                entry = CrdVersion(spec["group"], spec["names"]["kind"], version["name"], bool(version.get("served")),
                                   bool(version.get("deprecated")), version.get("deprecationWarning") or "",
                                   version.get("schema", {}).get("openAPIV3Schema", {}))
                self.versions[(entry.api_version, entry.kind)] = entry

    def kinds(self) -> set[tuple[str, str]]:
        return set(self.versions)

    def errors(self, obj: dict[str, Any]) -> list[str]:
        """Why the API server would refuse (or silently drop part of) `obj`; [] when it is valid."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        where = f"{kind} {obj.get('metadata', {}).get('name')!r} ({api_version})"
        entry = self.versions.get((api_version, kind))
        if entry is None:
            known = sorted(f"{a} {k}" for a, k in self.versions if k == kind)
            return [f"{where}: no CRD serves {api_version} {kind}; known versions: {known or 'none'}"]
        if not entry.served:
            return [f"{where}: {api_version} is not served by the CRD"]
        if entry.deprecated:
            return [f"{where}: {api_version} is deprecated: {entry.warning or 'see the CRD'}"]
        validator = jsonschema.Draft7Validator(strict_schema(entry.schema))
        problems = []
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"{where}: {path}: {error.message}")
        return problems


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema from a CRD's structural OpenAPI v3 schema: unknown fields rejected, `nullable`
    honoured, int-or-string and preserve-unknown-fields left open; metadata is the API server's."""
    schema = copy.deepcopy(schema)
    _tighten(schema, top=True)
    return schema


def _tighten(node: Any, top: bool = False, branch: bool = False) -> None:
    """`branch`: inside allOf/anyOf/oneOf/not. In a structural schema those only validate values (their
    `properties` name fields the branch constrains, e.g. Cilium's `oneOf: [{required: [endpointSelector]}, ...]`);
    unknown fields are pruned by the schema's own `properties`, so a branch never rejects the other fields."""
    if not isinstance(node, dict):
        return
    if node.get("nullable") and "type" in node:
        node["type"] = [node["type"], "null"] if isinstance(node["type"], str) else [*node["type"], "null"]
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    properties = node.get("properties")
    if isinstance(properties, dict):
        if top and "metadata" in properties:
            properties["metadata"] = {"type": "object"}  # ObjectMeta: validated by the API server, not the CRD
        if not branch and not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for child in properties.values():
            _tighten(child, branch=branch)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _tighten(node[key], branch=branch)
    if isinstance(node.get("not"), dict):
        _tighten(node["not"], branch=True)
    for key in ("allOf", "anyOf", "oneOf"):
        for child in node.get(key, []) or []:
            _tighten(child, branch=True)
