"""The pack as the Pulumi CLI runs it: policy/__main__.py serving gRPC, every policy MANDATORY."""
import select
import subprocess
import sys

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
import pulumi_policy.policy as servicer_module
from pulumi_policy.deserialize import deserialize_properties as sdk_deserialize

import policy_harness
from policy_harness import (DEPLOYMENT, REPO, SECRET, UNKNOWN, container, deployment, messages, secret,
                            urn_for, _struct)

EXPECTED_POLICIES = {
    "pinned-images", "gpu-pods-tolerate-taint-and-use-nvidia-runtime", "no-load-balancer-services",
    "secret-data-from-pulumi-secrets", "no-credentials-in-configmaps",
    "no-credentials-in-env-literals", "container-resources", "doks-version-pinned", "chart-versions-pinned",
    "spaces-not-public",
    # issue 16
    "pods-restricted-security-context", "namespaces-pod-security-labels", "namespaces-default-deny",
    "grafana-sidecar-own-namespace", "prod-control-plane-allowlist", "images-pinned-by-digest",
    # issue 22 (the re-audit's planted prod-plan violations)
    "no-allow-all-ingress", "no-node-ports-or-external-ips", "no-host-paths-or-host-ports",
    "no-secrets-on-command-lines",
    # issue 29 (rules on reach and capability, charts rendered)
    "gateway-routes-from-named-namespaces", "pulumi-secrets-only-in-secrets", "no-credential-literals",
    "no-credential-flags-on-command-lines", "rbac-roles-least-privilege", "rbac-bindings-scoped",
    "pods-only-in-kinds-the-pack-reads", "helm-releases-rendered", "model-api-private",
    "workloads-in-managed-namespaces", "api-tokens-only-where-bound",
}
# Advisory on every preview; policy/enforce-digests.json makes it mandatory for prod deploys (issue 16).
ADVISORY_POLICIES = {"images-pinned-by-digest"}


@pytest.fixture(scope="module")
def served_pack():
    """Start the pack as the CLI's Python analyzer does (`python -u -m pulumi.policy <engine> .` in the
    pack directory, which runs policy/__main__.py); it prints its gRPC port, and we connect to it."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
                               cwd=REPO / "policy", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            process.kill()
            pytest.fail(f"policy/__main__.py did not print its port: {line!r} {process.stderr.read().decode()}")
        port = int(line)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait(timeout=10)


def test_served_pack_declares_every_policy_mandatory(served_pack):
    info = served_pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
    assert info.name == "gtc-demo-guardrails"
    assert {p.name for p in info.policies} == EXPECTED_POLICIES
    assert {p.enforcementLevel for p in info.policies if p.name not in ADVISORY_POLICIES} == {analyzer_pb2.MANDATORY}
    assert {p.enforcementLevel for p in info.policies if p.name in ADVISORY_POLICIES} == {analyzer_pb2.ADVISORY}


def test_served_pack_tells_pulumi_secrets_from_plaintext(served_pack):
    def analyze(value):
        props = {"metadata": {"name": "hf-token"}, "stringData": {"HF_TOKEN": value}}
        request = analyzer_pb2.AnalyzeRequest(type=SECRET, name="hf-token", urn=urn_for(SECRET, "hf-token"),
                                              properties=_struct(props))
        return [d.message for d in served_pack.Analyze(request, timeout=10).diagnostics]

    assert analyze(secret("hf_x")) == []
    assert analyze("hf_x") == ["Kubernetes Secret data comes only from Pulumi secrets.\n"
                               'Secret "hf-token": stringData["HF_TOKEN"] is a plaintext value, not a Pulumi '
                               "secret; read it with config.require_secret(...)"]


def test_without_the_secret_marker_hook_the_rule_fails_closed(monkeypatch):
    """pulumi-policy 1.21 unwraps secrets before validate(); if the hook ever stops applying, every value
    looks plaintext and the rule blocks rather than waving literals through."""
    monkeypatch.setattr(servicer_module, "deserialize_properties", sdk_deserialize)
    props = {"metadata": {"name": "hf-token"}, "stringData": {"HF_TOKEN": secret("hf_x")}}
    assert len(messages(SECRET, "hf-token", props, "secret-data-from-pulumi-secrets")) == 1


def test_an_image_unknown_during_preview_stops_no_rule():
    """The load generator's image is a digest reference that exists once `up` has pushed it. Before, reading
    it raised in every rule that walks the pod, so the real preview showed "can't run policy" advisories
    and checked nothing else of that Deployment. Now the image rules decide at `up`, and the others still
    check the pod at preview: a missing resources block is still a mandatory violation."""
    c = container("loadgen", UNKNOWN)
    del c["resources"]
    found = policy_harness.analyze(DEPLOYMENT, "loadgen", deployment(c))
    assert not [d for d in found if "can't be known during preview" in d.message], found
    assert "container-resources" in [d.policy for d in found if d.mandatory], found
    known = container("loadgen", "registry.example/loadgen:1.2.3")
    del known["resources"]
    same = policy_harness.analyze(DEPLOYMENT, "loadgen", deployment(known))
    assert sorted(d.policy for d in found if d.mandatory) == sorted(d.policy for d in same if d.mandatory), \
        "the unknown image hid a rule"


def test_one_violating_resource_reports_each_broken_rule_once():
    c = container("loadgen", "ghcr.io/acme/loadgen:latest", env=[{"name": "API_KEY", "value": "x"}])
    del c["resources"]
    found = policy_harness.analyze(DEPLOYMENT, "loadgen", deployment(c))
    assert sorted(d.policy for d in found) == ["container-resources", "images-pinned-by-digest",
                                               "no-credentials-in-env-literals", "pinned-images",
                                               "pods-restricted-security-context"]
    assert all(d.mandatory for d in found if d.policy not in ADVISORY_POLICIES)
