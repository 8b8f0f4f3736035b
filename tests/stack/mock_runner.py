"""Subprocess side of `plan.evaluate`: run __main__.py under a recording mock monitor, print JSON.

Usage (from the repo root, with PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS set): mock_runner.py STACK up|preview
"""

from __future__ import annotations

import base64
import hashlib
import json
import runpy
import sys
import traceback
from pathlib import Path

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

REPO = Path(__file__).resolve().parents[2]
PROJECT = "gtc-demo"


def _outputs_for(type_: str, name: str, inputs: dict) -> dict:
    """Plausible provider outputs for the types whose outputs the program reads."""
    out = dict(inputs)
    if type_ == "digitalocean:index/kubernetesCluster:KubernetesCluster":
        out.update(
            endpoint=f"https://{name}.k8s.ondigitalocean.com",
            urn=f"do:kubernetes:{name}-id",
            kubeConfigs=[{
                "rawConfig": "apiVersion: v1\nkind: Config\n",
                "clusterCaCertificate": "Q0EtREFUQQ==",
                "host": f"https://{name}.k8s.ondigitalocean.com",
                "token": "short-lived-token",
                "expiresAt": "2026-12-01T00:00:00Z",
            }],
        )
    elif type_ == "digitalocean:index/nfs:Nfs":
        out.update(host="10.110.0.50", mountPath="/2633050/7d4b0b1e-nfs")
    elif type_ == "digitalocean:index/spacesKey:SpacesKey":
        out.update(accessKey="DO00FAKEACCESSKEY", secretKey="fake-spaces-secret")
    elif type_ == "digitalocean:index/vpc:Vpc":
        out.update(urn=f"do:vpc:{name}-id")
    elif type_ == "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials":
        auth = base64.b64encode(b"fake-registry-token:fake-registry-token").decode()
        out.update(dockerCredentials=json.dumps({"auths": {"registry.digitalocean.com": {"auth": auth}}}),
                   credentialExpirationTime="2027-01-01T00:00:00Z")
    elif type_ == "docker-build:index:Image":
        digest = "sha256:" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        out.update(digest=digest, ref=f"{inputs['tags'][0]}@{digest}", contextHash="fake-context-hash")
    elif type_.startswith("random:index/random"):
        out.update(result=f"{name}-generated-value-0123456789")
    return out


def _passing_check_report() -> dict:
    """What `loadgen check` writes into the verification ConfigMap after a pass (its own report format)."""
    sys.path.insert(0, str(REPO))
    from loadgen.check import Report, RouterResult

    report = Report(public={"url": "https://gtc.example/", "tls": "TLS verified", "ok": True, "attempts": 1, "error": None})
    for router, cached in (("kv", 2048), ("round-robin", 0)):
        report.routers[router] = RouterResult(
            url=f"http://{router}:8000", model="m", completion_ttft_ms=60.0, ttft_ms=[190.0, 52.0, 55.0],
            prompt_tokens=[2069, 2186, 2287], cached_tokens=[0, cached, cached + 100], ttft_drop=0.72)
    return report.to_json() | {"checkedAt": "2026-12-01T00:00:00Z"}  # fixed: runs must compare equal


class ProgramMocks(mocks.Mocks):
    def __init__(self):
        self.invokes: list[dict] = []

    def new_resource(self, args: mocks.MockResourceArgs):
        if args.typ == "kubernetes:core/v1:ConfigMap" and (args.resource_id or "").endswith("/gtc-demo-verification"):
            return args.resource_id, {"data": {"report.json": json.dumps(_passing_check_report())}}  # read after the Job
        return f"{args.name}-id", _outputs_for(args.typ, args.name, args.inputs)

    def call(self, args: mocks.MockCallArgs):
        self.invokes.append({"token": args.token, "args": args.args})
        token = args.token
        if token == "digitalocean:index/getKubernetesVersions:getKubernetesVersions":
            prefix = args.args.get("versionPrefix", "1.33.")
            latest = f"{prefix}5-do.0"
            return {"latestVersion": latest, "validVersions": [latest], "versionPrefix": prefix, "id": "versions"}
        if token == "digitalocean:index/getSpacesBucket:getSpacesBucket":
            name, region = args.args.get("name"), args.args.get("region")
            return {"name": name, "region": region, "urn": f"do:space:{name}", "id": name,
                    "bucketDomainName": f"{name}.{region}.digitaloceanspaces.com",
                    "endpoint": f"{region}.digitaloceanspaces.com"}
        if token == "digitalocean:index/getDomain:getDomain":
            return {"name": args.args.get("name"), "urn": f"do:domain:{args.args.get('name')}", "ttl": 1800,
                    "zoneFile": "", "id": args.args.get("name")}
        if token == "digitalocean:index/getContainerRegistry:getContainerRegistry":
            name = args.args.get("name")
            return {"name": name, "id": name, "serverUrl": "registry.digitalocean.com",
                    "endpoint": f"registry.digitalocean.com/{name}", "subscriptionTierSlug": "professional",
                    "region": "sfo3", "storageUsageBytes": 0, "createdAt": "2025-01-01T00:00:00Z"}
        return dict(args.args)


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that also keeps what the engine would see: raw inputs, edges and options."""

    def __init__(self, program_mocks: ProgramMocks):
        super().__init__(program_mocks)
        self.records: list[dict] = []
        self.reads: list[dict] = []
        self.stack_outputs: dict = {}
        self.stack_urn = ""

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        timeouts = request.customTimeouts
        self.records.append({
            "type": request.type,
            "name": request.name,
            "urn": response.urn,
            "id": response.id,
            "parent": request.parent,
            "custom": bool(request.custom),
            "provider": request.provider,
            "inputs": json_format.MessageToDict(request.object),
            "dependencies": list(request.dependencies),
            "property_dependencies": {k: list(v.urns) for k, v in request.propertyDependencies.items()},
            "options": {
                "protect": request.protect,
                "deleteBeforeReplace": request.deleteBeforeReplace,
                "ignoreChanges": list(request.ignoreChanges),
                "replaceOnChanges": list(request.replaceOnChanges),
                "retainOnDelete": request.retainOnDelete,
                "deletedWith": request.deletedWith,
                "additionalSecretOutputs": list(request.additionalSecretOutputs),
                "customTimeouts": {"create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete},
                "version": request.version,
            },
        })
        return response

    def ReadResource(self, request):
        response = super().ReadResource(request)
        self.reads.append({"type": request.type, "name": request.name, "id": request.id, "urn": response.urn,
                           "dependencies": list(request.dependencies)})
        return response

    def RegisterResourceOutputs(self, request):
        if request.urn == self.stack_urn:
            self.stack_outputs = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


def main() -> int:
    stack, mode = sys.argv[1], sys.argv[2]
    program_mocks = ProgramMocks()
    monitor = RecordingMonitor(program_mocks)
    mocks.set_mocks(program_mocks, project=PROJECT, stack=stack, preview=(mode == "preview"), monitor=monitor)
    settings.ROOT.set(None)  # let run_in_stack create the Stack so exports are recorded
    sys.path.insert(0, str(REPO))
    try:
        _sync_await(run_in_stack(lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")))
    except pulumi.RunError as exc:
        print(json.dumps({"error": str(exc), "registered": len(monitor.records)}))
        return 1
    except Exception as exc:  # noqa: BLE001 - surfaced to the test as the failure text
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                          "registered": len(monitor.records)}))
        return 1
    print(json.dumps({
        "resources": monitor.records,
        "invokes": program_mocks.invokes,
        "reads": monitor.reads,
        "outputs": monitor.stack_outputs,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
