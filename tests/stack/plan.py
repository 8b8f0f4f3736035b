"""Evaluate the real Pulumi program for a stack under Pulumi's mock runtime and record what it registers.

`evaluate(stack, overrides=..., secrets=...)` runs `__main__.py` exactly as `pulumi up` would (same
config files, same code) in a fresh subprocess, with a recording monitor in place of the engine. It
returns a `Plan`: every resource with its type, name, URN, raw inputs (secrets keep their secret
markers, so tests can tell a Pulumi secret from a plain string), all dependencies, per-property
dependencies and resource options (dependsOn, customTimeouts, protect, ...), every provider function
call (the look-ups of pre-existing resources), and the stack outputs.

A subprocess per evaluation gives each run a clean runtime and config, and lets a test evaluate a bad
config and read the error exactly as `pulumi preview` prints it (`PlanError.message`).

Run directly for a quick look: `python tests/stack/plan.py dev | less`.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

REPO = Path(__file__).resolve().parents[2]
PROJECT = "gtc-demo"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

# Stand-ins for the account credentials the deploy job's environment holds (never stack config).
FAKE_ENVIRONMENT = {
    "DIGITALOCEAN_TOKEN": "dop_v1_fake_token_for_tests",
    "SPACES_ACCESS_KEY_ID": "DO00FAKEKEYIDFORTESTS",
    "SPACES_SECRET_ACCESS_KEY": "fake_spaces_secret_for_tests",
}
# Stand-ins for the secrets a real stack sets with `pulumi config set --secret`.
FAKE_SECRETS = {
    f"{PROJECT}:hfToken": "hf_fake_token_for_tests",
    f"{PROJECT}:gradientApiKey": "fake_gradient_key_for_tests",
    f"{PROJECT}:dnsToken": "dop_v1_fake_dns_scoped_token_for_tests",
}
# What an operator sets per event with `pulumi config set` and the repository does not hold (the prod API
# allowlist: the operators' and the deploy runner's addresses), stood in for by a documentation address.
OPERATOR_SETTINGS = {"prod": {f"{PROJECT}:cluster": {"controlPlaneAllowlist": ["198.51.100.7/32"]}}}


class PlanError(Exception):
    """The program failed to evaluate; `message` is what `pulumi preview` would print."""

    def __init__(self, message: str, registered: int = -1):
        super().__init__(message)
        self.message = message
        self.registered = registered  # resources registered before the failure


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARK


def unwrap(value: Any) -> Any:
    """The plain value with every secret marker removed (recursively)."""
    if is_secret(value):
        return unwrap(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    inputs: dict
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    options: dict
    id: str = ""

    @property
    def plain(self) -> dict:
        """Inputs with secret markers stripped, for asserting on values."""
        return unwrap(self.inputs)

    @property
    def explicit_dependencies(self) -> set[str]:
        """Edges declared with depends_on (dependencies no input property accounts for)."""
        implied = {urn for urns in self.property_dependencies.values() for urn in urns}
        return set(self.dependencies) - implied


@dataclass
class Plan:
    stack: str
    resources: list[Resource]
    invokes: list[dict]
    reads: list[dict]
    outputs: dict
    log: list[str] = field(default_factory=list)

    def by_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, type_: str, name: Optional[str] = None) -> Resource:
        """The one resource of this type (and logical name); fails loudly when missing or ambiguous."""
        found = [r for r in self.by_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.by_type(type_))
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)}; present: {names}")
        return found[0]

    def find(self, type_: str, name: Optional[str] = None) -> Optional[Resource]:
        found = [r for r in self.by_type(type_) if name is None or r.name == name]
        return found[0] if len(found) == 1 else None

    def by_urn(self, urn: str) -> Resource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise LookupError(urn)

    def depends_on(self, resource: Resource, target: Resource) -> bool:
        """Whether `resource` (or a component parent of it) transitively depends on `target`.

        Pulumi creates `resource` after `target` and destroys it before; a dependency on a
        component counts as a dependency on all of the component's children, and a resource
        depends on its provider (the Kubernetes provider on the cluster it talks to).
        """
        targets = {target.urn} | self._children(target.urn)
        seen: set[str] = set()
        frontier = [resource.urn]
        while frontier:
            urn = frontier.pop()
            if urn in seen:
                continue
            seen.add(urn)
            node = self._node(urn)
            if node is None:
                continue
            edges = list(node.dependencies)
            if node.provider:  # "<provider urn>::<id>": a resource also needs its provider (and what that needs)
                edges.append(node.provider.rsplit("::", 1)[0])
            for dep in edges:
                if dep in targets:
                    return True
                frontier.append(dep)
                frontier.extend(self._children(dep))
            if node.parent and node.parent in self._urns():
                frontier.append(node.parent)
        return False

    def invoked(self, token: str) -> list[dict]:
        return [i for i in self.invokes if i["token"] == token]

    def _urns(self) -> set[str]:
        return {r.urn for r in self.resources}

    def _node(self, urn: str) -> Optional[Resource]:
        return next((r for r in self.resources if r.urn == urn), None)

    @functools.lru_cache(maxsize=None)
    def _children_cached(self, urn: str) -> frozenset:
        kids = {r.urn for r in self.resources if r.parent == urn}
        for kid in list(kids):
            kids |= self._children_cached(kid)
        return frozenset(kids)

    def _children(self, urn: str) -> set[str]:
        return set(self._children_cached(urn))

    __hash__ = object.__hash__


def stack_config(stack: str) -> dict[str, Any]:
    """The `config:` map of Pulumi.<stack>.yaml, as `pulumi up` would read it."""
    data = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    return dict(data.get("config") or {})


def _as_config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _environment(stack: str, overrides: dict, secrets: dict, variables: dict) -> dict[str, str]:
    config = stack_config(stack)
    for key, value in OPERATOR_SETTINGS.get(stack, {}).items():
        config[key] = {**config.get(key, {}), **value}
    for key, value in overrides.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    for key, value in secrets.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    env = {k: v for k, v in os.environ.items() if k not in FAKE_ENVIRONMENT and k != "DIGITALOCEAN_ACCESS_TOKEN"}
    env.update({k: v for k, v in variables.items() if v is not None})
    env["PULUMI_CONFIG"] = json.dumps({k: _as_config_text(v) for k, v in config.items()})
    env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps([k for k, v in secrets.items() if v is not None])
    return env


def evaluate(stack: str, overrides: Optional[dict] = None, secrets: Optional[dict] = None,
             preview: bool = False, timeout: float = 120, environment: Optional[dict] = None) -> Plan:
    """Run the program for `stack` with config `overrides` (full keys; None deletes a key).

    `secrets` replaces entries of FAKE_SECRETS (None removes one, to test a missing secret);
    `environment` likewise for FAKE_ENVIRONMENT, the deploy job's variables.
    `preview=True` evaluates as `pulumi preview` does (unknown outputs stay unknown).
    """
    merged = {**FAKE_SECRETS, **(secrets or {})}
    env = _environment(stack, overrides or {}, merged, {**FAKE_ENVIRONMENT, **(environment or {})})
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("mock_runner.py")), stack, "preview" if preview else "up"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise _plan_error(proc.stdout, proc.stderr)
    data = json.loads(proc.stdout)
    resources = [Resource(**r) for r in data["resources"]]
    return Plan(stack, resources, data["invokes"], data["reads"], data["outputs"], data.get("log", []))


def _plan_error(stdout: str, stderr: str) -> PlanError:
    try:
        data = json.loads(stdout)
        return PlanError(data["error"], data.get("registered", -1))
    except (ValueError, KeyError):
        return PlanError((stderr or stdout).strip())


def types(resources: Iterable[Resource]) -> list[str]:
    return sorted({r.type for r in resources})


if __name__ == "__main__":
    plan = evaluate(sys.argv[1] if len(sys.argv) > 1 else "dev")
    for r in plan.resources:
        print(f"{r.type:60} {r.name}")
    print(json.dumps(plan.outputs, indent=1)[:4000])
