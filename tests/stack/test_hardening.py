"""Issue 16 on the real program: credentials scoped, least privilege in the cluster, who can reach what."""

import copy
import re
from pathlib import Path

import pytest
from kubernetes_validate import validate as k8s_validate
from plan import REPO, PlanError, evaluate, stack_config

from components.config import ConfigError, locked_version, parse_config
from components.platform import grafana_least_privilege

SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_VERSION = "1.33.0"
PREFIX = "gtc-demo:"


def raw(stack: str) -> dict:
    return {k[len(PREFIX):]: copy.deepcopy(v) for k, v in stack_config(stack).items() if k.startswith(PREFIX)}


# --- credentials ---------------------------------------------------------------------------------------

def test_a_stack_without_the_dns_scoped_token_fails_at_preview_naming_the_key():
    with pytest.raises(PlanError) as failed:
        evaluate("dev", secrets={"gtc-demo:dnsToken": None}, preview=True)
    assert "gtc-demo:dnsToken" in failed.value.message
    assert "pulumi config set --secret gtc-demo:dnsToken" in failed.value.message
    assert failed.value.registered == 0


def test_dns_secrets_hold_the_dns_token_never_the_account_token(dev_plan):
    for ns in ("cert-manager", "external-dns"):
        data = dev_plan.get(SECRET, f"platform-secret-{ns}-digitalocean-dns").plain["stringData"]
        assert data == {"access-token": "dop_v1_fake_dns_scoped_token_for_tests"}
    for secret in dev_plan.by_type(SECRET):
        assert "dop_v1_fake_token_for_tests" not in str(secret.plain), secret.name


def test_download_job_reads_with_a_read_only_key_upload_writes(dev_plan):
    grants = {k.name: k.plain["grants"] for k in dev_plan.by_type("digitalocean:index/spacesKey:SpacesKey")}
    assert grants == {"infra-spaces-key": [{"bucket": "do-gtc2026-doks-demo-dev", "permission": "readwrite"}],
                      "infra-spaces-key-read": [{"bucket": "do-gtc2026-doks-demo-dev", "permission": "read"}]}
    download = dev_plan.get("kubernetes:batch/v1:Job", "model-download").plain
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in download["spec"]["template"]["spec"]["containers"][0]["env"]
            if "valueFrom" in e}
    assert refs == {"spaces-credentials-read", "hf-token"}  # the token only reads the published hashes


# --- control plane -------------------------------------------------------------------------------------

def test_an_empty_prod_allowlist_is_a_config_error_naming_the_key():
    config = raw("prod")
    config["cluster"]["controlPlaneAllowlist"] = []
    with pytest.raises(ConfigError) as failed:
        parse_config(config, "prod")
    assert "gtc-demo:cluster.controlPlaneAllowlist=[]" in str(failed.value)
    parse_config(raw("dev"), "dev")  # dev may stay open (documented)


def test_prod_as_committed_needs_the_operator_allowlist():
    """The prod file holds no allowlist: `pulumi preview -s prod` fails until the operator sets one."""
    assert "controlPlaneAllowlist" not in stack_config("prod")["gtc-demo:cluster"]
    with pytest.raises(ConfigError):
        parse_config(raw("prod"), "prod")


@pytest.mark.parametrize("allowlist", [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"], ["::/1"]])
def test_the_whole_internet_is_not_an_allowlist(allowlist):
    """Re-audit (issue 22): two /1 entries are the whole internet too; the check accepted them."""
    config = raw("prod")
    config["cluster"]["controlPlaneAllowlist"] = allowlist
    with pytest.raises(ConfigError, match="whole internet") as refused:
        parse_config(config, "prod")
    assert f"gtc-demo:cluster.controlPlaneAllowlist" in str(refused.value) and allowlist[0] in str(refused.value)


def test_prod_cluster_has_the_firewall(prod_plan):
    cluster = prod_plan.get("digitalocean:index/kubernetesCluster:KubernetesCluster").plain
    assert cluster["controlPlaneFirewall"] == {"enabled": True, "allowedAddresses": ["198.51.100.7/32"]}


# --- namespaces: PSA and NetworkPolicies -----------------------------------------------------------------

def test_every_namespace_has_psa_labels(stack_plan):
    levels = {ns.plain["metadata"]["name"]: ns.plain["metadata"]["labels"] for ns in stack_plan.by_type(NAMESPACE)}
    assert {name: labels["pod-security.kubernetes.io/enforce"] for name, labels in levels.items()} == {
        "dynamo-workload": "baseline", "dynamo-system": "baseline", "monitoring": "privileged",
        "cert-manager": "restricted", "external-dns": "restricted"}
    for labels in levels.values():
        assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def _policies(plan, namespace):
    return {p.plain["metadata"]["name"]: p.plain["spec"] for p in plan.by_type(NETPOL)
            if p.plain["metadata"]["namespace"] == namespace}


def test_every_namespace_has_a_default_deny(stack_plan):
    for ns in stack_plan.by_type(NAMESPACE):
        name = ns.plain["metadata"]["name"]
        denies = [spec for spec in _policies(stack_plan, name).values()
                  if spec["podSelector"] == {} and "Ingress" in spec["policyTypes"] and not spec.get("ingress")
                  and not spec.get("egress")]
        assert denies, f"{name} has no default-deny"
        assert all(stack_plan.depends_on(p, ns) for p in stack_plan.by_type(NETPOL)
                   if p.plain["metadata"]["namespace"] == name)
    assert _policies(stack_plan, "dynamo-workload")["default-deny"]["policyTypes"] == ["Ingress", "Egress"]


def _allowed_sources(spec):
    return [src for rule in spec.get("ingress", []) for src in rule.get("from", [{"any": True}])]


def test_frontends_are_reachable_only_from_clients_the_graph_and_prometheus(stack_plan):
    policies = _policies(stack_plan, "dynamo-workload")
    selecting_frontends = {name: spec for name, spec in policies.items() if spec.get("ingress") and (
        spec["podSelector"].get("matchLabels", {}).get("gtc-demo/graph-role") == "frontend"
        or "frontend" in str(spec["podSelector"].get("matchExpressions", "")))}
    sources = [src for spec in selecting_frontends.values() for src in _allowed_sources(spec)]
    assert {"podSelector": {"matchLabels": {"gtc-demo/frontend-client": "true"}}} in sources
    assert PROMETHEUS_PEER in sources
    assert all("any" not in src and "ipBlock" not in src for src in sources), sources
    # Only the load generator carries the client label (and would the verification Job).
    loadgen_pod = stack_plan.get("kubernetes:apps/v1:Deployment", "loadgen-deployment").plain["spec"]["template"]
    assert loadgen_pod["metadata"]["labels"]["gtc-demo/frontend-client"] == "true"
    graph = stack_plan.get("kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment").plain
    roles = {c["name"]: c["podTemplate"]["metadata"]["labels"]["gtc-demo/graph-role"] for c in graph["spec"]["components"]}
    assert roles == {"Frontend": "frontend", "FrontendRoundRobin": "frontend", "TrtllmWorker": "worker"}


PROMETHEUS_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                   "podSelector": {"matchLabels": {"operator.prometheus.io/name": "kube-prometheus-stack-prometheus"}}}


def test_loadgen_metrics_only_from_prometheus_and_routed_ports_only_from_the_gateway(stack_plan):
    """Issue 28: no pod may reach the load generator's public port (it held the booth's connections); only the
    Gateway's Envoy (Cilium's `ingress` identity) reaches what the Gateway routes to, the node its probes."""
    workload = _policies(stack_plan, "dynamo-workload")
    metrics = workload["loadgen-metrics-from-prometheus"]
    assert metrics["ingress"] == [{"from": [PROMETHEUS_PEER], "ports": [{"port": 9090, "protocol": "TCP"}]}]
    for namespace in ("dynamo-workload", "monitoring"):  # no Kubernetes policy admits a source-less port any more
        for name, spec in _policies(stack_plan, namespace).items():  # but the webhooks' (the API server has no pod)
            if name != "webhooks-from-apiserver":
                assert all(rule.get("from") for rule in spec.get("ingress", []) if rule.get("ports")), (namespace, name)
    cilium = {r.plain["metadata"]["name"]: r.plain for r in stack_plan.by_type("kubernetes:cilium.io/v2:CiliumNetworkPolicy")}
    assert set(cilium) == {"loadgen-edge", "grafana-edge"}
    loadgen = cilium["loadgen-edge"]
    assert loadgen["metadata"]["namespace"] == "dynamo-workload"
    assert loadgen["spec"]["endpointSelector"] == {"matchLabels": {"app.kubernetes.io/name": "loadgen"}}
    assert loadgen["spec"]["ingress"] == [
        {"fromEntities": ["ingress"], "toPorts": [{"ports": [{"port": "3000", "protocol": "TCP"}]}]},
        {"fromEntities": ["host"], "toPorts": [{"ports": [{"port": "9090", "protocol": "TCP"}]}]}]
    grafana = cilium["grafana-edge"]
    assert grafana["metadata"]["namespace"] == "monitoring"
    assert grafana["spec"]["endpointSelector"] == {"matchLabels": {"app.kubernetes.io/name": "grafana"}}
    assert [r["fromEntities"] for r in grafana["spec"]["ingress"]] == [["ingress"], ["host"]]
    # Egress beyond the namespace: HTTPS to public addresses only, plus the API server's ports for the graph.
    assert workload["graph-to-kube-api"]["egress"] == [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                                        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}]
    for name in ("loadgen-to-followup-api", "model-jobs-to-hub-and-spaces"):
        [rule] = workload[name]["egress"]
        assert rule["ports"] == [{"port": 443, "protocol": "TCP"}]
        assert "10.0.0.0/8" in rule["to"][0]["ipBlock"]["except"]


def test_only_prometheus_reaches_metrics_ports(stack_plan):
    """Issue 22: before, every pod in `monitoring` (Grafana included) reached the frontends and workers on any
    port and the load generator's internal port (full conversation texts)."""
    for namespace in ("dynamo-workload", "cert-manager", "external-dns", "dynamo-system"):
        for name, spec in _policies(stack_plan, namespace).items():
            for rule in spec.get("ingress", []):
                for peer in rule.get("from", []):
                    if "namespaceSelector" in peer and peer["namespaceSelector"]["matchLabels"].get(
                            "kubernetes.io/metadata.name") == "monitoring":
                        assert peer == PROMETHEUS_PEER, (namespace, name, peer)
                        assert rule.get("ports"), (namespace, name, "every port")
    graph = _policies(stack_plan, "dynamo-workload")["metrics-from-prometheus"]
    assert graph["ingress"] == [{"from": [PROMETHEUS_PEER], "ports": [{"port": 8000, "protocol": "TCP"}, {"port": 9090, "protocol": "TCP"}]}]


def test_the_policies_name_the_prometheus_the_real_chart_creates():
    """`helm template` of the vendored kube-prometheus-stack: its Prometheus resource is named PROMETHEUS_NAME,
    so the operator labels its pods operator.prometheus.io/name=<that name> (the selector the policies use)."""
    from components.k8s_common import PROMETHEUS_NAME, PROMETHEUS_POD
    from tools.helm import HelmError, template

    chart = REPO / "vendor" / "charts" / "kube-prometheus-stack-79.5.0.tgz"
    try:
        objects = template(chart, "kube-prometheus-stack", "monitoring", {}, K8S_VERSION)
    except HelmError as missing:  # a set-up fault, not a pass
        pytest.fail(str(missing))
    [prometheus] = [o for o in objects if o["kind"] == "Prometheus"]
    assert prometheus["metadata"]["name"] == PROMETHEUS_NAME
    assert PROMETHEUS_POD == {"operator.prometheus.io/name": PROMETHEUS_NAME}


def test_monitoring_pods_but_prometheus_cannot_reach_the_metadata_address(stack_plan):
    egress = _policies(stack_plan, "monitoring")["egress-except-prometheus"]
    assert egress["policyTypes"] == ["Egress"]
    assert egress["podSelector"] == {"matchExpressions": [{"key": "operator.prometheus.io/name", "operator": "NotIn",
                                                           "values": ["kube-prometheus-stack-prometheus"]}]}
    blocks = [peer["ipBlock"] for rule in egress["egress"] for peer in rule.get("to", []) if "ipBlock" in peer]
    assert blocks and all("169.254.169.254/32" in block.get("except", []) for block in blocks), blocks
    # Grafana's data source is this Prometheus: its pods carry the label the policies name.
    from components.platform import PROMETHEUS_URL
    assert "//kube-prometheus-stack-prometheus.monitoring." in PROMETHEUS_URL


def test_network_policies_are_valid_kubernetes_objects(dev_plan):
    for policy in dev_plan.by_type(NETPOL):
        k8s_validate(policy.plain, K8S_VERSION, strict=True)


# --- workloads -----------------------------------------------------------------------------------------

def test_grafana_sidecar_reads_only_monitoring_through_a_role_in_the_real_chart():
    """`helm template` of the vendored kube-prometheus-stack with our Grafana values: no ClusterRole."""
    from tools.helm import HelmError, template

    chart = REPO / "vendor" / "charts" / "kube-prometheus-stack-79.5.0.tgz"
    try:
        objects = template(chart, "kube-prometheus-stack", "monitoring", {"grafana": grafana_least_privilege()}, K8S_VERSION)
    except HelmError as missing:  # a set-up fault, not a pass
        pytest.fail(str(missing))
    grafana_rbac = [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role")
                    and "grafana" in o["metadata"]["name"]]
    assert [o["kind"] for o in grafana_rbac] == ["Role"]
    assert grafana_rbac[0]["metadata"]["namespace"] == "monitoring"
    [deployment] = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-grafana")]
    sidecars = {c["name"]: {e["name"]: e.get("value") for e in c.get("env", [])}
                for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"].startswith("grafana-sc")}
    assert sidecars and all(env["NAMESPACE"] == "monitoring" for env in sidecars.values())


def test_grafana_values_in_the_program(dev_plan):
    values = dev_plan.get("kubernetes:helm.sh/v3:Release", "platform-kube-prometheus-stack").plain["values"]["grafana"]
    assert values["rbac"] == {"namespaced": True}
    assert values["sidecar"]["dashboards"]["searchNamespace"] == "monitoring"


def test_model_jobs_run_as_non_root(stack_plan):
    for job in stack_plan.by_type("kubernetes:batch/v1:Job"):
        pod = job.plain["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_mocker_pods_have_the_restricted_security_context(mocker_plan):
    graph = mocker_plan.get("kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment").plain
    for component in graph["spec"]["components"]:
        pod = component["podTemplate"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, component["name"]
        for container in pod["containers"]:
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert not {"hostIPC", "hostPID", "hostNetwork"} & set(pod)


def test_loadgen_is_one_pod_kept_through_drains_and_autoscaling(stack_plan):
    deployment = stack_plan.get("kubernetes:apps/v1:Deployment", "loadgen-deployment").plain
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
    pdb = stack_plan.get("kubernetes:policy/v1:PodDisruptionBudget", "loadgen-pdb").plain
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    k8s_validate(pdb, K8S_VERSION, strict=True)


def test_two_loadgen_replicas_are_refused():
    config = raw("dev")
    config["loadgen"]["replicas"] = 2
    with pytest.raises(ConfigError, match="gtc-demo:loadgen.replicas=2"):
        parse_config(config)


# --- supply chain --------------------------------------------------------------------------------------

def test_digest_pinning_refuses_a_tag_naming_the_key():
    config = raw("dev")
    config["images"]["pinning"] = "digest"
    with pytest.raises(ConfigError) as failed:
        parse_config(config)
    assert "gtc-demo:images" in str(failed.value) and "dynamoFrontend" in str(failed.value)
    digest = "@sha256:" + "a" * 64
    for key in ("dynamoFrontend", "trtllmRuntime", "modelTools"):
        config["images"][key] += digest
    assert parse_config(config).images.pinning == "digest"


LOCKS = {  # lock -> the requirements files it is compiled from
    "requirements.lock": ["requirements.txt"],
    "policy/requirements.lock": ["policy/requirements.txt"],
    "requirements-dev.lock": ["requirements.txt", "requirements-test.txt", "loadgen/requirements.txt",
                              "policy/requirements.txt", "rehearsal/requirements.txt"],
    "rehearsal/requirements-nodeps.lock": ["rehearsal/requirements-nodeps.txt"],
}


@pytest.mark.parametrize("lock, sources", LOCKS.items())
def test_every_lock_pins_what_its_requirements_pin(lock, sources):
    for source in sources:
        pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", (REPO / source).read_text(), flags=re.M))
        for name, version in pins.items():
            assert locked_version(name, REPO / lock) == version, f"{lock}: {name} (from {source}); run `make locks`"


def test_make_setup_and_ci_install_only_from_hashed_locks():
    """Issue 22: `make setup` and the workflows installed from requirements files, unhashed."""
    makefile = (REPO / "Makefile").read_text()
    workflows = "\n".join(p.read_text() for p in (REPO / ".github" / "workflows").glob("*.yml"))
    installs = re.findall(r"pip install[^\n]*", makefile + "\n" + workflows)
    # Allowed without hashes: `make locks` bootstrapping its compiler, and a PR's *base* branch from before the
    # locks existed (its own trusted requirements.txt, for the rendered diff).
    unhashed = [line for line in installs if "--require-hashes" not in line and "uv==" not in line and "$lock" not in line]
    assert installs and not unhashed, unhashed
    assert 'lock="--require-hashes -r requirements.lock"' in workflows
    for lock in ("requirements-dev.lock", "rehearsal/requirements-nodeps.lock", "policy/requirements.lock"):
        assert f"--require-hashes -r {lock}" in makefile or f"--require-hashes --no-deps -r {lock}" in makefile, lock


@pytest.mark.parametrize("lock", ["loadgen/requirements.lock", "manifests/model-pipeline/requirements.lock", *LOCKS])
def test_locks_pin_every_package_with_hashes(lock):
    text = (REPO / lock).read_text()
    entries = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, flags=re.M)
    names = re.findall(r"^([A-Za-z0-9_.\-]+)==", text, flags=re.M)
    assert entries and len(entries) == len(names)


def test_loadgen_lock_matches_its_requirements_and_the_image_requires_hashes():
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", (REPO / "loadgen/requirements.txt").read_text(), flags=re.M))
    lock = REPO / "loadgen/requirements.lock"
    for name, version in pins.items():
        assert locked_version(name, lock) == version, name
    dockerfile = (REPO / "loadgen/Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements.lock" in dockerfile


def test_jobs_install_the_hashed_lock():
    script = (REPO / "manifests/model-pipeline/run.sh").read_text()
    assert "--require-hashes" in script and "-r /scripts/requirements.lock" in script
    assert locked_version("huggingface_hub") == raw("prod")["modelPipeline"]["huggingfaceHubVersion"]
    assert locked_version("boto3") == raw("prod")["modelPipeline"]["boto3Version"]
    config = raw("dev")
    config["modelPipeline"]["boto3Version"] = "1.40.71"
    with pytest.raises(ConfigError, match="requirements.lock pins boto3==1.40.70"):
        parse_config(config)


def test_the_lock_reaches_the_jobs(dev_plan):
    scripts = dev_plan.get("kubernetes:core/v1:ConfigMap", "model-scripts").plain["data"]
    assert "requirements.lock" in scripts and "--hash=sha256:" in scripts["requirements.lock"]


def test_an_allowlist_of_many_narrow_entries_is_bounded_in_total():
    """Issue 29: 250 /16 entries each pass the per-entry bound and admit 16.4 M addresses."""
    config = raw("prod")
    config["cluster"]["controlPlaneAllowlist"] = [f"{i}.0.0.0/16" for i in range(1, 251)]
    with pytest.raises(ConfigError) as refused:
        parse_config(config, "prod")
    assert "gtc-demo:cluster" in str(refused.value) and "16,384,000 addresses" in str(refused.value)
    assert "controlPlaneAllowlistMaxAddresses=1,024" in str(refused.value)
    config["cluster"]["controlPlaneAllowlist"] = ["198.51.100.0/24", "198.51.100.7/32", "203.0.113.0/23"]
    assert parse_config(config, "prod").cluster.control_plane_allowlist  # 768 addresses over the union


def test_the_pack_bounds_the_allowlist_as_the_prod_config_does():
    import sys
    sys.path.insert(0, str(REPO / "policy"))
    from components.config import allowlist_size
    from gtc_policy.rules.cluster_access import allowlist_size as pack_size, max_addresses
    assert max_addresses("prod") == stack_config("prod")["gtc-demo:cluster"]["controlPlaneAllowlistMaxAddresses"]
    for cidrs in (["10.0.0.0/16", "10.0.0.0/24"], ["2001:db8::/48", "192.0.2.1/32"], [f"{i}.0.0.0/16" for i in range(1, 251)]):
        assert allowlist_size(cidrs) == pack_size(cidrs)
