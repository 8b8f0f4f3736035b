"""Issue 16's rules, each with an input that violates it and one that passes."""
import copy
import json

import pytest
from pulumi.runtime.proto import analyzer_pb2

import policy_harness
from policy_harness import (CLUSTER, DEPLOYMENT, DGD_V1BETA1, JOB, RELEASE, REPO, analyze, analyze_stack, container,
                            deployment, dgd_v1beta1, dgd_v1beta1_worker, messages, urn_for, _servicer, _struct)

NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POD_SECURITY = "pods-restricted-security-context"
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def secured(c):
    return {**c, "securityContext": dict(RESTRICTED_CONTAINER)}


# --- securityContext -----------------------------------------------------------------------------------

def test_restricted_deployment_passes():
    props = deployment(secured(container()), securityContext=RESTRICTED_POD)
    assert messages(DEPLOYMENT, "loadgen", props, POD_SECURITY) == []


def test_pod_without_security_context_is_refused_naming_what_is_missing():
    job = {"spec": {"template": {"spec": {"containers": [container("download")]}}}}
    assert messages(JOB, "model-download", job, POD_SECURITY) == [
        'Job "model-download": container "download" lacks securityContext runAsNonRoot: true, '
        'allowPrivilegeEscalation: false, capabilities.drop: ["ALL"], seccompProfile.type: RuntimeDefault']


def test_job_with_root_user_is_refused():
    job = {"spec": {"template": {"spec": {"securityContext": {**RESTRICTED_POD, "runAsNonRoot": False},
                                          "containers": [secured(container("upload"))]}}}}
    assert messages(JOB, "model-upload", job, POD_SECURITY) == [
        'Job "model-upload": container "upload" lacks securityContext runAsNonRoot: true']


def test_host_ipc_and_ipc_lock_on_a_gpu_worker_are_refused():
    main = secured(container("main", "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:1.6.1"))
    main["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["IPC_LOCK"]}
    worker = dgd_v1beta1_worker(hostIPC=True, securityContext=RESTRICTED_POD, containers=[main])
    found = messages(DGD_V1BETA1, "gtc-demo", dgd_v1beta1(worker), POD_SECURITY)
    assert found == ['DynamoGraphDeployment "gtc-demo": component "TrtllmWorker": hostIPC: true shares the node\'s namespace',
                     'DynamoGraphDeployment "gtc-demo": component "TrtllmWorker": container "main" adds capabilities [\'IPC_LOCK\']']


def test_restricted_dgd_components_pass_and_a_bare_frontend_is_refused():
    main = secured(container("main", "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:1.6.1"))
    worker = dgd_v1beta1_worker(securityContext=RESTRICTED_POD, containers=[main])
    frontend = {"name": "Frontend", "type": "frontend", "replicas": 1,
                "podTemplate": {"spec": {"securityContext": RESTRICTED_POD, "containers": [secured(container("main"))]}}}
    assert messages(DGD_V1BETA1, "gtc-demo", dgd_v1beta1(frontend, worker), POD_SECURITY) == []
    bare = copy.deepcopy(frontend)
    del bare["podTemplate"]["spec"]["securityContext"]
    del bare["podTemplate"]["spec"]["containers"][0]["securityContext"]
    assert len(messages(DGD_V1BETA1, "gtc-demo", dgd_v1beta1(bare, worker), POD_SECURITY)) == 1


def test_privileged_container_is_refused():
    c = container()
    c["securityContext"] = {**RESTRICTED_CONTAINER, "privileged": True}
    found = messages(DEPLOYMENT, "x", deployment(c, securityContext=RESTRICTED_POD), POD_SECURITY)
    assert found == ['Deployment "x": container "app" is privileged']


# --- namespaces ----------------------------------------------------------------------------------------

def namespace(name, labels):
    return {"metadata": {"name": name, "labels": labels}}


def test_namespace_without_psa_labels_is_refused_and_with_them_passes():
    assert messages(NAMESPACE, "ns", namespace("dynamo-workload", {"app.kubernetes.io/part-of": "gtc-demo"}),
                    "namespaces-pod-security-labels") == [
        'Namespace "ns": label pod-security.kubernetes.io/enforce is missing; set one of privileged, baseline, '
        "restricted (and warn/audit labels) so admission checks its pods"]
    assert messages(NAMESPACE, "ns", namespace("dynamo-workload", {"pod-security.kubernetes.io/enforce": "baseline"}),
                    "namespaces-pod-security-labels") == []
    assert len(messages(NAMESPACE, "ns", namespace("x", {"pod-security.kubernetes.io/enforce": "loose"}),
                        "namespaces-pod-security-labels")) == 1


def _netpol(ns, spec):
    return (NETPOL, f"np-{ns}", {"metadata": {"name": "p", "namespace": ns}, "spec": spec})


def test_namespace_without_a_default_deny_is_refused():
    ns = (NAMESPACE, "ns-a", namespace("a", {"pod-security.kubernetes.io/enforce": "restricted"}))
    allow_only = _netpol("a", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]})
    narrow = _netpol("a", {"podSelector": {"matchLabels": {"app": "x"}}, "policyTypes": ["Ingress"]})
    other_ns = _netpol("b", {"podSelector": {}, "policyTypes": ["Ingress"]})
    for policies in ([], [allow_only], [narrow], [other_ns]):
        found = [d for d in analyze_stack([ns, *policies]) if d.policy == "namespaces-default-deny"]
        assert [d.urn for d in found] == [urn_for(NAMESPACE, "ns-a")], policies
        assert 'namespace "a" has no default-deny' in found[0].message and found[0].mandatory
    deny = _netpol("a", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert [d for d in analyze_stack([ns, deny, allow_only]) if d.policy == "namespaces-default-deny"] == []


# --- Grafana -------------------------------------------------------------------------------------------

def kps(grafana):
    return {"chart": "kube-prometheus-stack", "version": "79.5.0", "values": {"grafana": grafana}}


GRAFANA = "grafana-sidecar-own-namespace"


def test_grafana_sidecar_searching_all_namespaces_is_refused():
    found = messages(RELEASE, "kps", kps({"rbac": {"namespaced": True},
                                          "sidecar": {"dashboards": {"searchNamespace": "ALL"}}}), GRAFANA)
    assert found == ['Release "kps": Grafana sidecar "dashboards" searches ALL namespaces besides "monitoring"; '
                     "search only the namespace that holds the dashboards"]


def test_grafana_sidecar_searching_a_second_namespace_is_refused_however_listed():
    """The re-audit's leftover: `monitoring,dynamo-workload` read as one name passed; so would a list."""
    for spelled in ("monitoring,dynamo-workload", " monitoring , dynamo-workload", ["monitoring", "dynamo-workload"],
                    "dynamo-workload"):
        found = messages(RELEASE, "kps", kps({"rbac": {"namespaced": True},
                                              "sidecar": {"dashboards": {"searchNamespace": spelled}}}), GRAFANA)
        assert found == ['Release "kps": Grafana sidecar "dashboards" searches dynamo-workload besides "monitoring"; '
                         "search only the namespace that holds the dashboards"], spelled


def test_grafana_chart_defaults_are_refused():
    found = messages(RELEASE, "kps", kps({}), GRAFANA)
    assert len(found) == 2  # the dashboard sidecar's default ALL, and the cluster-wide ClusterRole
    assert "rbac.namespaced" in found[1]


def test_grafana_in_its_own_namespace_passes():
    values = {"rbac": {"namespaced": True}, "sidecar": {"dashboards": {"searchNamespace": "monitoring"},
                                                        "datasources": {"searchNamespace": "monitoring"}}}
    assert messages(RELEASE, "kps", kps(values), GRAFANA) == []
    assert messages(RELEASE, "cm", {"chart": "cert-manager", "version": "v1.19.1", "values": {}}, GRAFANA) == []


# --- images --------------------------------------------------------------------------------------------

DIGEST = "images-pinned-by-digest"


def test_image_without_digest_is_reported_and_with_digest_passes():
    tagged = deployment(container("app", "python:3.11.11-slim"))
    found = [d for d in analyze(DEPLOYMENT, "x", tagged) if d.policy == DIGEST]
    assert len(found) == 1 and not found[0].mandatory
    assert 'image "python:3.11.11-slim" has no @sha256 digest' in found[0].message
    pinned = deployment(container("app", "python:3.11.11-slim@sha256:" + "0" * 64))
    assert messages(DEPLOYMENT, "x", pinned, DIGEST) == []
    assert len(messages(DEPLOYMENT, "x", deployment(container("app", "python@sha256:abc")), DIGEST)) == 1


def test_the_prod_pack_config_refuses_an_image_without_digest():
    """What `pulumi up -s prod --policy-pack-config policy/enforce-digests.json` does: the engine's Configure."""
    config = json.loads((REPO / "policy" / "enforce-digests.json").read_text())
    servicer = _servicer()
    levels = {"mandatory": analyzer_pb2.MANDATORY, "advisory": analyzer_pb2.ADVISORY}
    request = analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(enforcementLevel=levels[value["enforcementLevel"]]) for name, value in config.items()})
    servicer.Configure(request, None)
    props = deployment(container("app", "python:3.11.11-slim"))
    response = servicer.Analyze(analyzer_pb2.AnalyzeRequest(type=DEPLOYMENT, name="x", urn=urn_for(DEPLOYMENT, "x"),
                                                            properties=_struct(props)), None)
    [digest] = [d for d in response.diagnostics if d.policyName == DIGEST]
    assert digest.enforcementLevel == analyzer_pb2.MANDATORY


# --- prod control plane --------------------------------------------------------------------------------

ALLOWLIST = "prod-control-plane-allowlist"


@pytest.mark.parametrize("firewall", [None, {"enabled": True, "allowedAddresses": []}, {"enabled": False,
                                      "allowedAddresses": ["198.51.100.7/32"]}, {"enabled": True, "allowedAddresses": ["0.0.0.0/0"]}])
def test_prod_cluster_without_an_allowlist_is_refused(firewall):
    props = {"name": "gtc-demo", "version": "1.33.1-do.0", **({"controlPlaneFirewall": firewall} if firewall else {})}
    prod_urn = f"urn:pulumi:prod::gtc-demo::{CLUSTER}::infra-cluster"
    found = [d for d in analyze(CLUSTER, "infra-cluster", props, urn=prod_urn) if d.policy == ALLOWLIST]
    assert len(found) == 1 and found[0].mandatory


def test_prod_cluster_with_an_allowlist_passes_and_dev_is_not_checked():
    props = {"name": "gtc-demo", "version": "1.33.1-do.0",
             "controlPlaneFirewall": {"enabled": True, "allowedAddresses": ["198.51.100.7/32"]}}
    prod_urn = f"urn:pulumi:prod::gtc-demo::{CLUSTER}::infra-cluster"
    assert [d for d in analyze(CLUSTER, "infra-cluster", props, urn=prod_urn) if d.policy == ALLOWLIST] == []
    open_dev = {"name": "gtc-demo-dev", "version": "1.33.1-do.0"}
    assert [d for d in analyze(CLUSTER, "infra-cluster", open_dev) if d.policy == ALLOWLIST] == []


def test_default_deny_is_decided_on_the_inputs_when_outputs_are_unknown():
    """A fresh stack's preview: every Kubernetes output is unknown (no cluster yet), so the engine's
    AnalyzeStack has no names; the rule decides on the inputs the resource policies were shown. Before,
    it reported `namespace ""` for all five namespaces of the real dev and prod previews."""
    unknown = {"metadata": policy_harness.UNKNOWN_STRING_VALUE, "spec": policy_harness.UNKNOWN_STRING_VALUE}
    ns = namespace("a", {"pod-security.kubernetes.io/enforce": "restricted"})
    deny = {"metadata": {"name": "default-deny", "namespace": "a"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    allow = {"metadata": {"name": "allow", "namespace": "a"},
             "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}}
    stack = [(NAMESPACE, "ns-a", unknown), (NETPOL, "np-a", unknown)]
    seen = {urn_for(NAMESPACE, "ns-a"): ns, urn_for(NETPOL, "np-a"): deny}
    assert [d for d in analyze_stack(stack, inputs_seen=seen) if d.policy == "namespaces-default-deny"] == []
    seen[urn_for(NETPOL, "np-a")] = allow
    found = [d for d in analyze_stack(stack, inputs_seen=seen) if d.policy == "namespaces-default-deny"]
    assert len(found) == 1 and 'namespace "a" has no default-deny' in found[0].message and found[0].mandatory
    # A policy whose namespace is itself unknown in the inputs could be anyone's default-deny: decided at `up`.
    seen[urn_for(NETPOL, "np-a")] = {"metadata": {"name": "d", "namespace": policy_harness.UNKNOWN_STRING_VALUE},
                                     "spec": deny["spec"]}
    assert [d for d in analyze_stack(stack, inputs_seen=seen) if d.policy == "namespaces-default-deny"] == []
