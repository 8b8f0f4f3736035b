"""`pulumi preview --diff --policy-pack policy` of the `dev` and `prod` stacks, as a reviewer runs it.

Every binary is real: the CLI, the Python language host, the DigitalOcean, Kubernetes, random and
docker-build providers, the policy pack. A fresh stack has no cluster yet, so every Kubernetes resource
reaches the policy pack with unknown values, which is what PR review sees. The DigitalOcean look-ups
are answered by localcluster/fake_digitalocean.py on loopback (inside the e2e's network namespace);
a call it does not know fails the test naming it. Plugin acquisition is off, so nothing is downloaded.

The text output of each preview is kept in the e2e work dir (`preview-<stack>.txt`) and printed in the
summary, which is what the PR workflow posts as its comment.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from localcluster.e2e.pulumi_cli import Workspace
from localcluster.e2e.summary import SUMMARY
from localcluster.fake_digitalocean import FakeDigitalOcean

DOCUMENTATION_RANGE = "192.0.2.0/24"  # RFC 5737 TEST-NET-1: an allowlist that is valid and admits no one
DOMAIN = "digitalocean.solutions"
BUCKET, BUCKET_REGION = "do-gtc2026-doks-demo", "atl1"
PLACEHOLDER = {  # secret-typed config; never real credentials
    "digitalocean:token": "dop_v1_placeholder-api-token",
    "digitalocean:spacesAccessId": "DO00PLACEHOLDERKEYID",
    "digitalocean:spacesSecretKey": "placeholder-spaces-secret",
    "gtc-demo:hfToken": "hf_placeholder",
    "gtc-demo:gradientApiKey": "placeholder-gradient-key",
    "gtc-demo:dnsToken": "dop_v1_placeholder-dns-token",
}
EXPECTED_CALLS = {  # what the program's preview asks the API, and nothing else
    "GET http://127.0.0.1/v2/kubernetes/options",
    f"GET http://127.0.0.1/v2/domains/{DOMAIN}",
    f"HEAD http://{BUCKET}.{BUCKET_REGION}.spaces.invalid/",
}


@pytest.fixture(scope="module")
def fake_api():
    with FakeDigitalOcean(token=PLACEHOLDER["digitalocean:token"],
                          spaces_access_id=PLACEHOLDER["digitalocean:spacesAccessId"],
                          domains=(DOMAIN,), buckets={BUCKET: BUCKET_REGION}) as fake:
        yield fake


def _workdir(name: str) -> Path:
    root = Path(os.environ.get("E2E_WORKDIR") or "/tmp/gtc-e2e") / name
    root.mkdir(parents=True, exist_ok=True)
    return root


def cloud_stack(stack: str, fake: FakeDigitalOcean, name: str | None = None,
                secrets: dict[str, str] | None = None, plain: dict[str, str] | None = None) -> Workspace:
    """A fresh `dev`/`prod` stack on a throwaway backend, pointed at the fake, with placeholder secrets."""
    ws = Workspace.create(_workdir(name or f"preview-{stack}"), None, stack)
    ws.run("stack", "init", "--secrets-provider", "passphrase")
    values = {"digitalocean:apiEndpoint": fake.api_endpoint, "digitalocean:spacesEndpoint": fake.spaces_endpoint}
    if stack == "prod":
        values["gtc-demo:cluster.controlPlaneAllowlist[0]"] = DOCUMENTATION_RANGE
    values.update(plain or {})
    args = ["config", "set-all", "--path"]
    for key, value in values.items():
        args += ["--plaintext", f"{key}={value}"]
    for key, value in (PLACEHOLDER if secrets is None else secrets).items():
        args += ["--secret", f"{key}={value}"]
    ws.run(*args, log=False)
    return ws


def preview(ws: Workspace, fake: FakeDigitalOcean, *extra: str, check: bool = True):
    # The Spaces endpoint's host names resolve nowhere: the S3 client reaches the fake as its HTTP proxy.
    # Loopback is exempt (Go never proxies it; Python's gRPC between the CLI and its plugins would).
    direct = "127.0.0.1,localhost"
    env = ws.env(HTTP_PROXY=fake.proxy, HTTPS_PROXY=fake.proxy, http_proxy=fake.proxy, https_proxy=fake.proxy,
                 NO_PROXY=direct, no_proxy=direct)
    return ws.run("preview", "--diff", "--policy-pack", "policy", *extra, env=env, check=check, timeout=300)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_preview_with_policy_pack(stack: str, fake_api: FakeDigitalOcean):
    ws = cloud_stack(stack, fake_api)
    started = time.monotonic()
    proc = preview(ws, fake_api)
    SUMMARY["timings"][f"preview --policy-pack ({stack}, fresh)"] = time.monotonic() - started
    out = proc.stdout + proc.stderr
    (ws.root.parent / f"preview-{stack}.txt").write_text(out)
    SUMMARY["previews"][stack] = str(ws.root.parent / f"preview-{stack}.txt")
    assert "gtc-demo-guardrails" in out, out[-3000:]  # the pack ran
    assert "mandatory" not in out.lower(), out[-4000:]
    refused = fake_api.refused()
    assert not refused, f"the preview made DigitalOcean calls the fake does not know: {refused}"
    made = {f"{c.method} {c.url}" for c in fake_api.calls}
    assert EXPECTED_CALLS <= made, f"expected look-ups not made: {sorted(EXPECTED_CALLS - made)}"
    # Every resource of the graph is listed: the JSON preview's creates cover each type the program registers.
    steps = json.loads(preview(ws, fake_api, "--json").stdout)["steps"]
    types = {s["urn"].split("::")[2].rsplit("$", 1)[-1] for s in steps if s["op"] == "create"}
    for expected in ("digitalocean:index/kubernetesCluster:KubernetesCluster", "digitalocean:index/vpc:Vpc",
                     "digitalocean:index/nfs:Nfs", "kubernetes:helm.sh/v3:Release",
                     "kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment", "kubernetes:core/v1:Namespace",
                     "kubernetes:networking.k8s.io/v1:NetworkPolicy", "random:index/randomPassword:RandomPassword",
                     "docker-build:index:Image", "digitalocean:index/kubernetesNodePool:KubernetesNodePool"):
        assert expected in types, f"{stack}: no {expected} in the preview ({sorted(types)})"
    # ... and exactly the graph the program registers under the SDK's mock runtime (tests/stack), resource for
    # resource (type and name: the mock runtime writes only the nearest parent's type into a URN).
    from tests.stack.plan import evaluate

    def type_and_name(urn: str) -> tuple[str, str]:
        qualified, name = urn.split("::")[2:4]
        return qualified.rsplit("$", 1)[-1], name
    planned = {type_and_name(r.urn) for r in evaluate(stack, preview=True).resources}
    previewed = {type_and_name(s["urn"]) for s in steps if s["op"] == "create"} - {("pulumi:pulumi:Stack", f"gtc-demo-{stack}")}
    assert previewed == planned, f"only previewed: {sorted(previewed - planned)}; only planned: {sorted(planned - previewed)}"
    creates = sum(1 for s in steps if s["op"] == "create")
    SUMMARY["notes"].append(f"{stack}: real preview with the policy pack, {creates} to create, "
                            f"{len(fake_api.calls)} DigitalOcean calls so far, 0 refused")


BAD_CONFIG = [
    # (stack, plain config, secrets left out, what the error must name)
    ("dev", {"gtc-demo:region": "mars1"}, (), "gtc-demo:region='mars1'"),
    ("prod", {"gtc-demo:gpuPool.slug": "gpu-h100x9"}, (), "gtc-demo:gpuPool.slug='gpu-h100x9'"),
    ("dev", {}, ("digitalocean:spacesAccessId",), "digitalocean:spacesAccessId"),
    ("prod", {}, ("digitalocean:spacesSecretKey",), "digitalocean:spacesSecretKey"),
]


@pytest.mark.parametrize("stack,plain,left_out,named", BAD_CONFIG, ids=[c[3] for c in BAD_CONFIG])
def test_bad_config_fails_the_real_preview_naming_the_key(stack, plain, left_out, named, fake_api):
    secrets = {k: v for k, v in PLACEHOLDER.items() if k not in left_out}
    ws = cloud_stack(stack, fake_api, name=f"bad-{abs(hash(named))}", secrets=secrets, plain=plain)
    proc = preview(ws, fake_api, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert named in out, out[-3000:]
    assert not ws.resources(), "a refused preview leaves the stack empty"


def test_empty_prod_allowlist_fails_the_real_preview(fake_api):
    ws = Workspace.create(_workdir("bad-prod-allowlist"), None, "prod")
    ws.run("stack", "init", "--secrets-provider", "passphrase")
    args = ["config", "set-all", "--plaintext", f"digitalocean:apiEndpoint={fake_api.api_endpoint}",
            "--plaintext", f"digitalocean:spacesEndpoint={fake_api.spaces_endpoint}"]
    for key, value in PLACEHOLDER.items():
        args += ["--secret", f"{key}={value}"]
    ws.run(*args, log=False)
    proc = preview(ws, fake_api, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "gtc-demo:cluster.controlPlaneAllowlist=[]" in out, out[-3000:]
