"""The load generator's Deployment, Service, settings, control token and scrape config."""

import pytest
from kubernetes_validate import validate as k8s_validate
from plan import is_secret

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
K8S_VERSION = "1.33.0"
MODEL = "nvidia/Llama-3.1-70B-Instruct-FP8"


def deployment(plan):
    return plan.get(DEPLOYMENT, "loadgen-deployment").plain


def pod(plan):
    return deployment(plan)["spec"]["template"]["spec"]


def container(plan):
    return pod(plan)["containers"][0]


def test_settings_point_at_both_frontends_and_the_model(stack_plan):
    settings = stack_plan.get(CONFIG_MAP, "loadgen-settings").plain["data"]
    assert settings["LOADGEN_FRONTEND_URL"] == stack_plan.outputs["frontendUrl"]
    assert settings["LOADGEN_BASELINE_URL"] == stack_plan.outputs["baselineFrontendUrl"]
    assert settings["LOADGEN_FRONTEND_URL"] != settings["LOADGEN_BASELINE_URL"]
    assert settings["LOADGEN_MODEL"] == MODEL
    assert settings["LOADGEN_PORT"] == "3000" and settings["LOADGEN_INTERNAL_PORT"] == "9090"
    hosts = settings["LOADGEN_ALLOWED_HOSTS"].split(",")
    assert stack_plan.outputs["hostname"] in hosts and "loadgen.dynamo-workload.svc.cluster.local" in hosts and "*" not in hosts
    assert settings["LOADGEN_FOLLOWUP_MODEL"] == "llama3-8b-instruct"
    assert settings["LOADGEN_FOLLOWUP_URL"] == "https://inference.do-ai.run/v1"
    assert settings["LOADGEN_MAX_PROMPT_LENGTH"] == "8192"  # the engine's maxNumTokens bounds booth openings
    assert not any("TOKEN" in key or "KEY" in key for key in settings)
    # Auto-named (changed settings roll the pods): the Deployment takes the name from the ConfigMap's output.
    assert list(container(stack_plan)["envFrom"][0]) == ["configMapRef"]
    settings_map = stack_plan.get(CONFIG_MAP, "loadgen-settings")
    assert "name" not in settings_map.plain["metadata"]
    assert settings_map.urn in stack_plan.get(DEPLOYMENT, "loadgen-deployment").property_dependencies["spec"]


def test_container_runs_the_cli_contract(stack_plan):
    c = container(stack_plan)
    image = stack_plan.get("docker-build:index:Image")
    assert c["image"].startswith(image.plain["tags"][0] + "@sha256:")  # the built image's ref (tag@digest)
    assert image.urn in stack_plan.get(DEPLOYMENT, "loadgen-deployment").property_dependencies["spec"]
    assert c["command"] == ["python", "-m", "loadgen", "serve"]
    assert c["ports"] == [{"name": "http", "containerPort": 3000}, {"name": "metrics", "containerPort": 9090}]


def test_secrets_by_reference_only(stack_plan):
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(stack_plan)["env"]}
    assert refs == {
        "LOADGEN_CONTROL_TOKEN": {"name": "loadgen-control-token", "key": "LOADGEN_CONTROL_TOKEN"},
        "GRADIENT_API_KEY": {"name": "gradient-api-key", "key": "GRADIENT_API_KEY"},
    }


def test_control_token_is_generated_and_secret(stack_plan):
    secret = stack_plan.get(SECRET, "loadgen-control-token")
    assert secret.plain["metadata"]["name"] == "loadgen-control-token"
    assert is_secret(secret.inputs["stringData"])
    password = stack_plan.get("random:index/randomPassword:RandomPassword", "loadgen-control-token")
    assert password.plain["length"] >= 32
    assert password.plain.get("special") is False
    assert is_secret(stack_plan.outputs["loadgenControlToken"])
    # The Secret holds exactly the generated value that is exported.
    assert secret.plain["stringData"]["LOADGEN_CONTROL_TOKEN"] == stack_plan.outputs["loadgenControlToken"]["value"]
    assert password.urn in secret.property_dependencies["stringData"]
    k8s_validate(secret.plain, K8S_VERSION, strict=True)


def test_probes_resources_and_security(stack_plan):
    c, p = container(stack_plan), pod(stack_plan)
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}  # the internal port: no visitor fills it
    assert set(c["resources"]["requests"]) == {"cpu", "memory"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert p["securityContext"]["runAsNonRoot"] is True
    assert p["automountServiceAccountToken"] is False
    assert p["nodeSelector"] == {"gtc-demo/pool": "management"}
    assert "serviceAccountName" not in p


def test_no_cluster_rbac(stack_plan):
    """The load generator gets no Kubernetes API access; the only RBAC in the stack is the verification Job's
    namespaced Role on its one report ConfigMap (tests/stack/test_verification.py)."""
    verification = stack_plan.get("gtc-demo:verification:Verification").urn
    for resource in stack_plan.resources:
        assert not resource.type.endswith((":ClusterRole", ":ClusterRoleBinding")), resource.name
        if "rbac.authorization.k8s.io" in resource.type or resource.type == "kubernetes:core/v1:ServiceAccount":
            assert resource.parent == verification, resource.name
    pod = deployment(stack_plan)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod


def test_service_port_80_to_3000(stack_plan):
    service = stack_plan.get(SERVICE, "loadgen-service").plain
    assert service["metadata"]["name"] == "loadgen"
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    # The pod carries the Service's labels, plus the label that lets it reach the frontends (issue 16).
    assert deployment(stack_plan)["spec"]["template"]["metadata"]["labels"] == {
        **service["spec"]["selector"], "gtc-demo/frontend-client": "true"}


def test_prometheus_scrapes_metrics(stack_plan):
    monitor = stack_plan.get("kubernetes:monitoring.coreos.com/v1:PodMonitor", "loadgen-podmonitor")
    spec = monitor.plain["spec"]
    # /metrics lives on the internal port, which the Service (and so the Gateway route) does not expose.
    assert spec["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    assert spec["selector"]["matchLabels"] == deployment(stack_plan)["spec"]["selector"]["matchLabels"]
    assert stack_plan.depends_on(monitor, stack_plan.get("kubernetes:helm.sh/v3:Release",
                                                         "platform-kube-prometheus-stack"))


@pytest.mark.parametrize("type_,name", [
    (DEPLOYMENT, "loadgen-deployment"), (SERVICE, "loadgen-service"), (CONFIG_MAP, "loadgen-settings"),
])
def test_valid_kubernetes_objects(stack_plan, type_, name):
    obj = stack_plan.get(type_, name).plain
    if type_ == DEPLOYMENT:  # the auto-generated ConfigMap name is only known at apply time
        obj["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] = "loadgen-settings-x"
    if type_ == CONFIG_MAP:
        obj["metadata"]["name"] = "loadgen-settings-x"
    k8s_validate(obj, K8S_VERSION, strict=True)
