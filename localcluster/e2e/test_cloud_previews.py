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
# Each stack's own names (its own DigitalOcean team): the zone and the model-cache bucket it looks up.
NAMES = {"dev": ("dev.digitalocean.solutions", "do-gtc2026-doks-demo-dev", "ams3"),
         "prod": ("digitalocean.solutions", "do-gtc2026-doks-demo", "atl1")}
PLACEHOLDER = {  # the application's secret-typed config; never real credentials
    "gtc-demo:hfToken": "hf_placeholder",
    "gtc-demo:gradientApiKey": "placeholder-gradient-key",
    "gtc-demo:dnsToken": "dop_v1_placeholder-dns-token",
}
# What a `<stack>-preview` job's environment holds: a read-scoped token and read-only Spaces keys. The
# account credentials are never stack config (components/config.py refuses them).
PREVIEW_ENV = {
    "DIGITALOCEAN_TOKEN": "dop_v1_placeholder-read-scoped-preview-token",
    "SPACES_ACCESS_KEY_ID": "DO00PLACEHOLDERREADKEY",
    "SPACES_SECRET_ACCESS_KEY": "placeholder-read-only-spaces-secret",
}


def expected_calls(stack: str) -> set[str]:
    """What the program's preview asks the API, and nothing else."""
    domain, bucket, region = NAMES[stack]
    return {"GET http://127.0.0.1/v2/kubernetes/options", f"GET http://127.0.0.1/v2/domains/{domain}",
            f"HEAD http://{bucket}.{region}.spaces.invalid/"}


@pytest.fixture(scope="module")
def fake_api():
    """The fake knows only the read-scoped token: a preview that succeeds used it, and it cannot write
    (the fake refuses every call but the look-ups, as the token's scopes would)."""
    with FakeDigitalOcean(token=PREVIEW_ENV["DIGITALOCEAN_TOKEN"],
                          spaces_access_id=PREVIEW_ENV["SPACES_ACCESS_KEY_ID"],
                          domains=tuple(n[0] for n in NAMES.values()),
                          buckets={bucket: region for _d, bucket, region in NAMES.values()}) as fake:
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


def preview(ws: Workspace, fake: FakeDigitalOcean, *extra: str, check: bool = True,
            credentials: dict[str, str] | None = None):
    """`pulumi preview --diff --policy-pack policy` with the preview job's environment (`credentials`)."""
    # The Spaces endpoint's host names resolve nowhere: the S3 client reaches the fake as its HTTP proxy.
    # Loopback is exempt (Go never proxies it; Python's gRPC between the CLI and its plugins would).
    direct = "127.0.0.1,localhost"
    env = ws.env(HTTP_PROXY=fake.proxy, HTTPS_PROXY=fake.proxy, http_proxy=fake.proxy, https_proxy=fake.proxy,
                 NO_PROXY=direct, no_proxy=direct, **(PREVIEW_ENV if credentials is None else credentials))
    for name in ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN", "SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY"):
        if name not in (PREVIEW_ENV if credentials is None else credentials):
            env.pop(name, None)
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
    assert expected_calls(stack) <= made, f"expected look-ups not made: {sorted(expected_calls(stack) - made)}"
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
    # (stack, plain config, extra secret config, environment variables left out, what the error must name)
    ("dev", {"gtc-demo:region": "mars1"}, {}, (), "gtc-demo:region='mars1'"),
    ("prod", {"gtc-demo:gpuPool.slug": "gpu-h100x9"}, {}, (), "gtc-demo:gpuPool.slug='gpu-h100x9'"),
    ("dev", {}, {}, ("SPACES_ACCESS_KEY_ID",), "SPACES_ACCESS_KEY_ID (for digitalocean:spacesAccessId)"),
    ("prod", {}, {}, ("DIGITALOCEAN_TOKEN",), "DIGITALOCEAN_TOKEN or DIGITALOCEAN_ACCESS_TOKEN (for digitalocean:token)"),
    # The audit's high: the account token in the stack config (encrypted with the passphrase every preview holds).
    ("prod", {}, {"digitalocean:token": "dop_v1_placeholder-account-token"}, (),
     "digitalocean:token: an account credential in the stack's config"),
    ("dev", {}, {"digitalocean:spacesSecretKey": "placeholder-account-spaces-secret"}, (),
     "digitalocean:spacesSecretKey: an account credential in the stack's config"),
    # Dev's bucket, zone or registry named by prod.
    ("prod", {"gtc-demo:spaces.bucket": "do-gtc2026-doks-demo-dev"}, {}, (), "gtc-demo:spaces.bucket='do-gtc2026-doks-demo-dev'"),
    ("prod", {"gtc-demo:containerRegistry": "do-solutions-dev"}, {}, (), "gtc-demo:containerRegistry='do-solutions-dev'"),
]


@pytest.mark.parametrize("stack,plain,extra,left_out,named", BAD_CONFIG, ids=[c[4] for c in BAD_CONFIG])
def test_bad_config_fails_the_real_preview_naming_the_key(stack, plain, extra, left_out, named, fake_api):
    ws = cloud_stack(stack, fake_api, name=f"bad-{abs(hash(named))}", secrets={**PLACEHOLDER, **extra}, plain=plain)
    proc = preview(ws, fake_api, check=False,
                   credentials={k: v for k, v in PREVIEW_ENV.items() if k not in left_out})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert named in out, out[-3000:]
    assert not ws.resources(), "a refused preview leaves the stack empty"
    assert "placeholder-account" not in out, "the refusal never prints the credential"


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
