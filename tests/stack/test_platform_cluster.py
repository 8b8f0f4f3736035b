"""The cluster platform: namespaces, RuntimeClass, Secrets, model storage and the pinned Helm releases."""

import pytest
from plan import is_secret, stack_config
from kubernetes_validate import validate as k8s_validate

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_VERSION = "1.33.0"


def release(plan, name):
    return plan.get(RELEASE, f"platform-{name}")


def valid(resource) -> None:
    """Schema-check a rendered object against the Kubernetes OpenAPI for the cluster's minor version."""
    k8s_validate(resource.plain, K8S_VERSION, strict=True)


def test_namespaces(stack_plan):
    names = {r.plain["metadata"]["name"] for r in stack_plan.by_type(NAMESPACE)}
    assert {"dynamo-workload", "dynamo-system", "monitoring", "cert-manager", "external-dns"} <= names
    assert "keda" not in names  # Phase 1 has fixed replicas


def test_runtime_class_nvidia(stack_plan):
    runtime_class = stack_plan.get("kubernetes:node.k8s.io/v1:RuntimeClass")
    assert runtime_class.plain["metadata"]["name"] == "nvidia"
    assert runtime_class.plain["handler"] == "nvidia"
    valid(runtime_class)


@pytest.mark.parametrize("name,keys", [
    ("hf-token", {"HF_TOKEN"}),
    ("spaces-credentials", {"SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY"}),
    ("gradient-api-key", {"GRADIENT_API_KEY"}),
])
def test_workload_secrets_are_pulumi_secrets(stack_plan, name, keys):
    secret = stack_plan.get(SECRET, f"platform-secret-dynamo-workload-{name}")
    assert secret.plain["metadata"] == {"name": name, "namespace": "dynamo-workload"}
    assert is_secret(secret.inputs["stringData"]), f"{name} data must be a Pulumi secret"
    assert set(secret.plain["stringData"]) == keys
    assert all(secret.plain["stringData"].values())
    valid(secret)


def test_every_secret_in_the_program_is_a_pulumi_secret(stack_plan):
    for secret in stack_plan.by_type(SECRET):
        for field in ("data", "stringData"):
            if field in secret.inputs:
                assert is_secret(secret.inputs[field]), f"{secret.name}.{field} is not a Pulumi secret"


def test_spaces_credentials_come_from_the_bucket_scoped_key(dev_plan):
    secret = dev_plan.get(SECRET, "platform-secret-dynamo-workload-spaces-credentials")
    key = dev_plan.get("digitalocean:index/spacesKey:SpacesKey", "infra-spaces-key")
    assert secret.property_dependencies["stringData"] == [key.urn]
    read_secret = dev_plan.get(SECRET, "platform-secret-dynamo-workload-spaces-credentials-read")
    read_key = dev_plan.get("digitalocean:index/spacesKey:SpacesKey", "infra-spaces-key-read")
    assert read_secret.property_dependencies["stringData"] == [read_key.urn]
    assert secret.plain["stringData"]["SPACES_ACCESS_KEY_ID"] == "DO00FAKEACCESSKEY"


def test_dns_credentials_for_cert_manager_and_external_dns(dev_plan):
    for ns in ("cert-manager", "external-dns"):
        secret = dev_plan.get(SECRET, f"platform-secret-{ns}-digitalocean-dns")
        assert secret.plain["metadata"]["namespace"] == ns
        assert is_secret(secret.inputs["stringData"])


def test_mocker_stack_needs_no_hugging_face_token(mocker_plan):
    names = {r.plain["metadata"]["name"] for r in mocker_plan.by_type(SECRET)}
    assert "hf-token" not in names
    assert {"gradient-api-key", "spaces-credentials"} <= names


def test_model_storage_is_a_read_write_many_claim_on_the_nfs_share(stack_plan):
    pv = stack_plan.get("kubernetes:core/v1:PersistentVolume")
    pvc = stack_plan.get("kubernetes:core/v1:PersistentVolumeClaim")
    nfs = stack_plan.get("digitalocean:index/nfs:Nfs")
    spec = pv.plain["spec"]
    assert spec["nfs"] == {"server": "10.110.0.50", "path": "/2633050/7d4b0b1e-nfs"}
    assert spec["accessModes"] == ["ReadWriteMany"]
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert nfs.urn in pv.property_dependencies["spec"]
    assert pvc.plain["metadata"] == {"name": "model-nfs-pvc", "namespace": "dynamo-workload"}
    assert pvc.plain["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc.plain["spec"]["volumeName"] == pv.plain["metadata"]["name"]
    valid(pv)
    valid(pvc)


PINNED = {  # what the cloud stacks install (components/charts.py)
    "dynamo-platform": ("dynamo-platform", "1.6.1", "https://helm.ngc.nvidia.com/nvidia/ai-dynamo"),
    "kube-prometheus-stack": ("kube-prometheus-stack", "79.5.0", "https://prometheus-community.github.io/helm-charts"),
    "dcgm-exporter": ("dcgm-exporter", "4.6.0", "https://nvidia.github.io/dcgm-exporter/helm-charts"),
    "cert-manager": ("cert-manager", "v1.19.1", "https://charts.jetstack.io"),
    "external-dns": ("external-dns", "1.19.0", "https://kubernetes-sigs.github.io/external-dns"),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_releases_install_the_pinned_chart_from_its_repository(stack_plan, name):
    chart, version, repo = PINNED[name]
    assert stack_config(stack_plan.stack)["gtc-demo:charts"] == {"source": "repository"}
    inputs = release(stack_plan, name).plain
    assert inputs["chart"] == chart
    assert inputs["version"] == version
    assert inputs["repositoryOpts"] == {"repo": repo}
    assert inputs["atomic"] is True


def test_exactly_the_pinned_releases_and_no_dynamo_crds(stack_plan):
    """dynamo-crds was removed from Dynamo in Feb 2026: the operator applies its own CRDs."""
    assert {r.plain["name"] for r in stack_plan.by_type(RELEASE)} == set(PINNED)


def test_vendored_source_installs_the_archives_in_the_repo(vendored_plan):
    from components.charts import CHARTS, REPO_ROOT
    for release_resource in vendored_plan.by_type(RELEASE):
        inputs = release_resource.plain
        pin = CHARTS[inputs["name"]]
        assert inputs["chart"] == f"./vendor/charts/{pin.chart}-{pin.vendored_version or pin.version}.tgz"
        assert (REPO_ROOT / inputs["chart"]).is_file(), inputs["chart"]
        assert "repositoryOpts" not in inputs and "version" not in inputs


def test_no_keda_in_phase_one(stack_plan):
    assert not [r for r in stack_plan.by_type(RELEASE) if "keda" in r.plain["chart"]]


def test_dynamo_platform_values(stack_plan):
    """Current keys: the old top-level grove/kai-scheduler switches fail the install, a top-level
    prometheusEndpoint is ignored. Grove and KAI stay out (one node, aggregated replicas)."""
    values = release(stack_plan, "dynamo-platform").plain["values"]
    assert values["global"] == {"grove": {"install": False, "enabled": False},
                                "kai-scheduler": {"install": False, "enabled": False}}
    operator = values["dynamo-operator"]
    assert operator["dynamo"]["metrics"]["prometheusEndpoint"] == (
        "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090")
    assert operator["upgradeCRD"] is True
    assert not {"grove", "kai-scheduler", "prometheusEndpoint"} & set(values)
    assert release(stack_plan, "dynamo-platform").plain["namespace"] == "dynamo-system"


def test_prometheus_selects_every_pod_monitor(stack_plan):
    spec = release(stack_plan, "kube-prometheus-stack").plain["values"]["prometheus"]["prometheusSpec"]
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False
    assert spec["podMonitorNamespaceSelector"] == {}
    assert spec["probeNamespaceSelector"] == {}


def test_grafana_under_slash_grafana_with_sidecar_and_secret_admin(stack_plan):
    grafana = release(stack_plan, "kube-prometheus-stack").plain["values"]["grafana"]
    host = stack_config(stack_plan.stack)["gtc-demo:hostname"]
    assert grafana["grafana.ini"]["server"]["root_url"] == f"https://{host}/grafana"
    assert grafana["grafana.ini"]["server"]["serve_from_sub_path"] is True
    assert grafana["sidecar"]["dashboards"]["enabled"] is True
    assert grafana["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    assert grafana["admin"]["existingSecret"] == "grafana-admin"
    assert "adminPassword" not in grafana  # the password never sits in Helm values
    admin = stack_plan.get(SECRET, "platform-secret-monitoring-grafana-admin")
    assert is_secret(admin.inputs["stringData"])
    password = stack_plan.get("random:index/randomPassword:RandomPassword", "platform-grafana-admin")
    assert password.urn in admin.property_dependencies["stringData"]


def test_dcgm_exporter_runs_on_the_gpu_node(stack_plan):
    values = release(stack_plan, "dcgm-exporter").plain["values"]
    assert values["nodeSelector"] == {"doks.digitalocean.com/gpu-brand": "nvidia"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]


def test_mocker_stack_has_no_gpu_exporter(mocker_plan):
    assert mocker_plan.find(RELEASE, "platform-dcgm-exporter") is None


def test_cert_manager_installs_its_crds_and_watches_gateways(stack_plan):
    values = release(stack_plan, "cert-manager").plain["values"]
    assert values["crds"] == {"enabled": True}
    assert values["config"]["enableGatewayAPI"] is True


def test_external_dns_is_limited_to_the_stack_domain(stack_plan):
    values = release(stack_plan, "external-dns").plain["values"]
    assert values["provider"] == {"name": "digitalocean"}
    assert values["domainFilters"] == [stack_config(stack_plan.stack)["gtc-demo:domain"]]
    assert values["sources"] == ["gateway-httproute"]
    assert values["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "digitalocean-dns"


@pytest.mark.parametrize("name", ["dynamo-platform", "kube-prometheus-stack", "dcgm-exporter",
                                  "cert-manager", "external-dns"])
def test_charts_wait_for_the_node_pools(stack_plan, name):
    chart = release(stack_plan, name)
    cluster = stack_plan.get("digitalocean:index/kubernetesCluster:KubernetesCluster")
    gpu_pool = stack_plan.get("digitalocean:index/kubernetesNodePool:KubernetesNodePool")
    assert {cluster.urn, gpu_pool.urn} <= chart.explicit_dependencies


def test_dynamo_operator_after_monitoring(stack_plan):
    platform = release(stack_plan, "dynamo-platform")
    assert stack_plan.depends_on(platform, release(stack_plan, "kube-prometheus-stack"))
    assert stack_plan.depends_on(platform, stack_plan.get("kubernetes:node.k8s.io/v1:RuntimeClass"))


def test_everything_on_the_cluster_uses_the_stack_provider(stack_plan):
    provider = stack_plan.get("pulumi:providers:kubernetes")
    for resource in stack_plan.resources:
        if resource.type.startswith("kubernetes:") and resource.custom:
            assert resource.provider.startswith(provider.urn), f"{resource.name} uses {resource.provider!r}"
