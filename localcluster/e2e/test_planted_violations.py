"""Every policy rule fails a real preview with its own message: `planted/__main__.py` breaks each once.

The real CLI, language host, Kubernetes, random and DigitalOcean providers and the real pack run on a
program whose Kubernetes provider is unknown at preview, as on a fresh dev/prod stack. The clean stacks
passing the same pack is test_cloud_previews.py; the same rules on values the real API server accepted
is test_pulumi_local.py (`preview` and `up` of the local stack run with the pack).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from localcluster.e2e.pulumi_cli import REPO, Workspace
from localcluster.e2e.test_cloud_previews import PREVIEW_ENV, preview
from localcluster.fake_digitalocean import FakeDigitalOcean

PLANTED = Path(__file__).resolve().parent / "planted"
MANDATORY = (  # rule -> a piece of the message its planted resource must produce
    ("namespaces-pod-security-labels", 'Namespace "ns-no-psa-no-deny": label pod-security.kubernetes.io/enforce is missing'),
    ("namespaces-default-deny", 'namespace "planted" has no default-deny NetworkPolicy'),
    ("pinned-images", 'image "nginx:latest" uses the "latest" tag'),
    ("container-resources", 'Deployment "deployment-unpinned-gpu"'),
    ("pods-restricted-security-context", 'Deployment "deployment-unpinned-gpu"'),
    ("no-credentials-in-env-literals", "API_KEY"),
    ("gpu-pods-tolerate-taint-and-use-nvidia-runtime", 'Deployment "deployment-unpinned-gpu"'),
    ("no-load-balancer-services", 'Service "service-load-balancer"'),
    ("no-credentials-in-configmaps", 'ConfigMap "configmap-credential"'),
    ("doks-version-pinned", 'KubernetesCluster "cluster-unpinned-open": version "1.33"'),
    ("prod-control-plane-allowlist", "leaves the Kubernetes API open"),
    ("spaces-not-public", 'SpacesBucket "bucket-public": acl "public-read"'),
    # the re-audit's planted prod-plan violations (issue 22)
    ("prod-control-plane-allowlist", "controlPlaneFirewall allows 0.0.0.0/1, 128.0.0.0/1"),
    ("namespaces-pod-security-labels", 'namespace "planted-workload" has no pinned Pod Security level'),
    ("no-allow-all-ingress", 'NetworkPolicy "netpol-allow-all": ingress[0] admits every pod in every namespace on every port'),
    ("no-node-ports-or-external-ips", 'Service "service-node-port": type NodePort'),
    ("no-host-paths-or-host-ports", "hostPath volume '/' reaches into the node"),
    ("no-host-paths-or-host-ports", "hostPort 3000 binds a port on the node"),
    ("rbac-roles-least-privilege", 'ClusterRole "cluster-role-secrets": rules[0] reads or writes Secrets in every namespace'),
    ("no-secrets-on-command-lines", 'container "loadgen" passes a secret in its command line'),
    # the outside audit's 21 plants and the re-audit's 3 leftovers (issue 29), spelled another way
    ("no-allow-all-ingress", 'NetworkPolicy "netpol-open-0": ingress[0] admits every pod in every namespace on every port'),
    ("no-allow-all-ingress", 'NetworkPolicy "netpol-open-1": ingress[0] admits every pod in every namespace on every port'),
    ("no-allow-all-ingress", 'NetworkPolicy "netpol-open-2": ingress[0] admits 4,256,038,912 public addresses'),
    ("no-allow-all-ingress", 'NetworkPolicy "netpol-open-3": ingress[0] admits every pod in every namespace on every port'),
    ("model-api-private", 'HTTPRoute "route-v1": sends traffic to "inference", a Service of the Dynamo frontend pods'),
    ("model-api-private", 'HTTPRoute "route-mirror": sends traffic to "gtc-demo-frontend", a Service of the Dynamo frontend pods'),
    ("model-api-private", 'Service "service-lb-frontend": selects the Dynamo frontend pods and publishes them (type LoadBalancer)'),
    ("model-api-private", 'NetworkPolicy "netpol-frontend-8000": ingress[0] admits an address block to the Dynamo frontend pods'),
    ("model-api-private", 'Gateway "gateway-plain-http": one of 2 Gateways'),
    ("gateway-routes-from-named-namespaces", 'Gateway "gateway-plain-http": listener "http" takes routes from every namespace'),
    ("rbac-bindings-scoped", "ClusterRoleBinding \"crb-admin-to-all-accounts\": binds the built-in role 'cluster-admin'"),
    ("rbac-bindings-scoped", "binds 'cluster-admin' to the group 'system:serviceaccounts'"),
    ("rbac-roles-least-privilege", 'ClusterRole "cluster-role-escalating": rules[0] runs commands in other pods (pods/exec)'),
    ("rbac-roles-least-privilege", "rules[0] mints service account tokens"),
    ("rbac-roles-least-privilege", "rules[1] impersonates other users and accounts"),
    ("rbac-roles-least-privilege", "rules[2] grants itself more (escalate)"),
    ("rbac-roles-least-privilege", "rules[2] binds roles it does not hold (bind)"),
    ("rbac-bindings-scoped", "RoleBinding \"rb-admin\": binds the built-in role 'admin'"),
    ("pods-only-in-kinds-the-pack-reads", 'ReplicationController "rc-privileged": a ReplicationController runs pods'),
    ("pods-restricted-security-context", 'ReplicationController "rc-privileged"'),
    ("no-host-paths-or-host-ports", "ReplicationController \"rc-privileged\": hostPath volume '/'"),
    ("pods-only-in-kinds-the-pack-reads", "DeploymentPatch \"patch-cert-manager\": patches Deployment 'cert-manager'"),
    ("pulumi-secrets-only-in-secrets", 'ConfigMap "configmap-innocuous": data.upstream holds a Pulumi secret'),
    ("pulumi-secrets-only-in-secrets", 'Deployment "deployment-loadgen-leaks": spec.template.spec.containers[0].env[0].value holds a Pulumi secret'),
    ("no-credential-literals", 'Deployment "deployment-loadgen-leaks": spec.template.spec.containers[0].args[4] holds a DigitalOcean API token literal'),
    ("no-credential-flags-on-command-lines", 'container "loadgen" passes --control-token as a literal'),
    ("api-tokens-only-where-bound", 'Deployment "deployment-loadgen-leaks": sets automountServiceAccountToken: true'),
    ("workloads-in-managed-namespaces", 'Deployment "deployment-in-default": lives in namespace "default"'),
    ("namespaces-pod-security-labels", 'Namespace "ns-cert-manager-lowered": namespace "cert-manager" enforces "baseline", but its pinned level is "restricted"'),
    ("prod-control-plane-allowlist", 'KubernetesCluster "cluster-wide-allowlist": controlPlaneFirewall admits 16,384,000 addresses over 250 entries'),
    ("helm-releases-rendered", 'Release "kps-opened" renders Service "monitoring/kube-prometheus-stack-grafana": type NodePort'),
    ("helm-releases-rendered", 'Release "kps-opened" renders Service "monitoring/kube-prometheus-stack-prometheus": type NodePort'),
    ("helm-releases-rendered", 'Release "kps-opened" renders Prometheus "monitoring/kube-prometheus-stack-prometheus": hostNetwork: true'),
    ("grafana-sidecar-own-namespace", 'Release "kps-opened": Grafana sidecar "dashboards" searches dynamo-workload besides "monitoring"'),
)


@pytest.fixture(scope="module")
def planted_preview() -> str:
    root = Path(os.environ.get("E2E_WORKDIR") or "/tmp/gtc-e2e") / "planted"
    project = root / "project"
    project.mkdir(parents=True, exist_ok=True)
    for name, target in (("__main__.py", PLANTED / "__main__.py"), ("policy", REPO / "policy"), ("vendor", REPO / "vendor")):
        (project / name).unlink(missing_ok=True)
        (project / name).symlink_to(target)
    (project / "Pulumi.yaml").write_text(
        "name: gtc-planted\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {REPO / '.venv'}\n")
    (root / "state").mkdir(exist_ok=True)
    (root / "passphrase").write_text(secrets.token_hex(16))
    ws = Workspace(root, None, "prod")  # prod: the allowlist rule applies to production stacks
    ws.run("stack", "init", "--secrets-provider", "passphrase")
    with FakeDigitalOcean(token=PREVIEW_ENV["DIGITALOCEAN_TOKEN"], spaces_access_id="unused",
                          domains=(), buckets={}) as fake:
        ws.run("config", "set-all", "--plaintext", f"digitalocean:apiEndpoint={fake.api_endpoint}", log=False)
        proc = preview(ws, fake, check=False)
        assert not fake.refused(), fake.refused()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, "a preview with mandatory violations must fail:\n" + out[-3000:]
    return out


@pytest.mark.parametrize("rule,message", MANDATORY, ids=[f"{rule}-{i}" for i, (rule, _) in enumerate(MANDATORY)])
def test_planted_violation_fails_the_real_preview(planted_preview: str, rule: str, message: str):
    lines = planted_preview.splitlines()
    reported = [i for i, line in enumerate(lines) if f"[mandatory]  {rule} " in line]
    assert reported, f"rule {rule} did not fire on the real preview:\n" + "\n".join(
        line for line in lines if "[mandatory]" in line or "[advisory]" in line)
    shown = "\n".join(lines[i + 1] for i in reported if i + 1 < len(lines))
    assert message in shown, f"{rule}: expected {message!r} in:\n{shown}"


def test_no_rule_stopped_by_an_unknown_value(planted_preview: str):
    assert "can't be known during preview" not in planted_preview


def test_plaintext_secret_data_is_invisible_to_the_pack_on_the_real_engine(planted_preview: str):
    """Found by this real preview: the Kubernetes provider marks every Secret's `data`/`stringData` secret
    itself before the pack sees the inputs, so `secret-data-from-pulumi-secrets` (which fires under the mock
    runtime, tests/policy) cannot tell a plaintext literal from a Pulumi secret here. What keeps plaintext
    out is the program test tests/stack/test_workloads_images_secrets.py (every Secret value comes from a
    Pulumi secret), run on the program itself. This test fails when the provider stops doing so, and the
    rule becomes effective again."""
    assert "[mandatory]  secret-data-from-pulumi-secrets" not in planted_preview
