"""The DigitalOcean resources each stack registers: what a reviewer checks in `pulumi preview`."""

import json

import pytest
from plan import FAKE_ENVIRONMENT, PlanError, evaluate, is_secret, stack_config, unwrap

VPC = "digitalocean:index/vpc:Vpc"
CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
NODE_POOL = "digitalocean:index/kubernetesNodePool:KubernetesNodePool"
NFS = "digitalocean:index/nfs:Nfs"
SPACES_KEY = "digitalocean:index/spacesKey:SpacesKey"
K8S_PROVIDER = "pulumi:providers:kubernetes"

EXPECTED = {
    "dev": {"region": "ams3", "gpu": "gpu-h100x8-640gb", "vpc": "10.110.0.0/20", "cluster": "gtc-demo-dev", "ha": False},
    "prod": {"region": "atl1", "gpu": "gpu-h200x8-1128gb-contracted", "vpc": "10.120.0.0/20", "cluster": "gtc-demo", "ha": True},
}


def test_vpc_per_stack(stack_plan):
    want = EXPECTED[stack_plan.stack]
    vpc = stack_plan.get(VPC).plain
    assert (vpc["region"], vpc["ipRange"]) == (want["region"], want["vpc"])


def test_cluster_inputs(stack_plan):
    want = EXPECTED[stack_plan.stack]
    cluster = stack_plan.get(CLUSTER)
    inputs = cluster.plain
    assert inputs["name"] == want["cluster"]
    assert inputs["region"] == want["region"]
    assert inputs["registryIntegration"] is True
    assert inputs["ha"] is want["ha"]
    assert inputs["autoUpgrade"] is False
    assert inputs["maintenancePolicy"] == {"day": "sunday", "startTime": "04:00"}
    assert inputs["destroyAllAssociatedResources"] is True
    pool = inputs["nodePool"]
    assert (pool["size"], pool["autoScale"], pool["minNodes"], pool["maxNodes"]) == ("s-2vcpu-4gb", True, 2, 5)
    assert "vpcUuid" in cluster.property_dependencies
    assert cluster.property_dependencies["vpcUuid"] == [stack_plan.get(VPC).urn]


def test_cluster_subnets_come_from_config(dev_plan):
    inputs = dev_plan.get(CLUSTER).plain
    assert (inputs["clusterSubnet"], inputs["serviceSubnet"]) == ("10.112.0.0/16", "10.113.0.0/16")


def test_kubernetes_version_is_resolved_from_the_prefix_and_then_held(dev_plan):
    calls = dev_plan.invoked("digitalocean:index/getKubernetesVersions:getKubernetesVersions")
    assert [c["args"]["versionPrefix"] for c in calls] == ["1.33."]
    cluster = dev_plan.get(CLUSTER)
    assert cluster.plain["version"] == "1.33.5-do.0"  # the exact version the look-up returned
    assert "version" in cluster.options["ignoreChanges"]


def test_control_plane_firewall_only_when_an_allowlist_is_set(dev_plan):
    assert "controlPlaneFirewall" not in dev_plan.get(CLUSTER).plain  # the stack file leaves it open
    locked = evaluate("dev", overrides={"gtc-demo:cluster": {
        "name": "gtc-demo-dev", "controlPlaneAllowlist": ["203.0.113.0/24"], "ha": True}})
    inputs = locked.get(CLUSTER).plain
    assert inputs["controlPlaneFirewall"] == {"enabled": True, "allowedAddresses": ["203.0.113.0/24"]}
    assert inputs["ha"] is True


def test_gpu_pool_per_stack(stack_plan):
    pool = stack_plan.get(NODE_POOL)
    inputs = pool.plain
    assert inputs["size"] == EXPECTED[stack_plan.stack]["gpu"]
    assert inputs["nodeCount"] == 1
    assert inputs["labels"] == {"gtc-demo/pool": "gpu"}
    assert pool.property_dependencies["clusterId"] == [stack_plan.get(CLUSTER).urn]
    assert pool.options["customTimeouts"]["create"] == "60m"


def test_mocker_backend_rents_no_gpu(mocker_plan):
    assert mocker_plan.by_type(NODE_POOL) == []


def test_nfs_share_sits_in_the_vpc(stack_plan):
    nfs = stack_plan.get(NFS)
    inputs = nfs.plain
    assert inputs["region"] == EXPECTED[stack_plan.stack]["region"]
    assert inputs["size"] == 16000
    assert inputs["performanceTier"] == "high"
    assert nfs.property_dependencies["vpcId"] == [stack_plan.get(VPC).urn]


def test_spaces_key_is_scoped_to_the_model_bucket(dev_plan):
    key = dev_plan.get(SPACES_KEY, "infra-spaces-key").plain
    assert key["grants"] == [{"bucket": "do-gtc2026-doks-demo-dev", "permission": "readwrite"}]
    # The download Job only reads: its key can only read (issue 16).
    read = dev_plan.get(SPACES_KEY, "infra-spaces-key-read").plain
    assert read["grants"] == [{"bucket": "do-gtc2026-doks-demo-dev", "permission": "read"}]


def test_pre_existing_resources_are_only_looked_up(stack_plan):
    managed = {r.type for r in stack_plan.resources}
    for kind in ("spacesBucket:SpacesBucket", "containerRegistry:ContainerRegistry", "domain:Domain"):
        assert f"digitalocean:index/{kind}" not in managed
    bucket = stack_plan.invoked("digitalocean:index/getSpacesBucket:getSpacesBucket")
    spaces = stack_config(stack_plan.stack)["gtc-demo:spaces"]
    assert [c["args"] for c in bucket] == [{"name": spaces["bucket"], "region": spaces["region"]}]
    # No registry look-up: the provider's answers a missing registry with success (issue 1535), so it
    # could check nothing; the registry is checked at `up` by the push credentials.
    assert not stack_plan.invoked("digitalocean:index/getContainerRegistry:getContainerRegistry")
    assert not stack_plan.invoked("digitalocean:index/getContainerRegistries:getContainerRegistries")
    domain = stack_plan.invoked("digitalocean:index/getDomain:getDomain")
    assert [c["args"]["name"] for c in domain] == [stack_config(stack_plan.stack)["gtc-demo:domain"]]


def _kubeconfig(plan) -> dict:
    provider = plan.get(K8S_PROVIDER)
    assert is_secret(provider.inputs["kubeconfig"]), "the cluster's endpoint and CA stay out of plain outputs"
    return json.loads(provider.plain["kubeconfig"])


def test_kubeconfig_holds_no_credential_and_asks_doctl_for_a_fresh_one(stack_plan):
    """Issue 27: neither the state nor the `kubeconfig` output carries the account token (or any token)."""
    kubeconfig = _kubeconfig(stack_plan)
    user = kubeconfig["users"][0]["user"]
    assert set(user) == {"exec"}, user
    assert user["exec"]["command"] == "doctl"
    assert user["exec"]["args"][:4] == ["kubernetes", "cluster", "kubeconfig", "exec-credential"]
    text = json.dumps(kubeconfig)
    assert FAKE_ENVIRONMENT["DIGITALOCEAN_TOKEN"] not in text and "short-lived-token" not in text
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("https://")
    assert unwrap(stack_plan.outputs["kubeconfig"]) == stack_plan.get(K8S_PROVIDER).plain["kubeconfig"]


@pytest.mark.parametrize("auth", ["api-token", "token", "API-TOKEN"])
def test_kubeconfig_modes_that_would_store_a_credential_are_refused(auth):
    with pytest.raises(PlanError) as info:
        evaluate("dev", overrides={"gtc-demo:cluster": {"name": "gtc-demo-dev", "kubeconfigAuth": auth}})
    assert f"gtc-demo:cluster.kubeconfigAuth={auth!r}" in info.value.message
    assert "allowed: doctl-exec" in info.value.message


def test_kubernetes_provider_tolerates_a_deleted_cluster_on_destroy(dev_plan):
    assert dev_plan.get(K8S_PROVIDER).plain["deleteUnreachable"] == "true"


@pytest.mark.parametrize("output", ["kubeconfig", "grafanaAdminPassword"])
def test_secret_outputs_stay_secret(stack_plan, output):
    assert is_secret(stack_plan.outputs[output])


def test_plain_outputs(stack_plan):
    outputs = stack_plan.outputs
    assert outputs["clusterName"] == EXPECTED[stack_plan.stack]["cluster"]
    assert outputs["hostname"].endswith(".digitalocean.solutions")
    assert outputs["nfsHost"] and outputs["nfsPath"].startswith("/")
    assert outputs["clusterId"]
