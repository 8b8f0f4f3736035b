"""The re-audit's planted prod-plan violations (issue 22, item 2): each passed the pack before; each is now
refused by a rule, and the program's own shape of the same resource passes."""
import pytest

from policy_harness import CLUSTER, DEPLOYMENT, analyze, container, deployment, secret

NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE = "kubernetes:core/v1:Service"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
PSA = "pod-security.kubernetes.io/enforce"


def mandatory(resource_type, name, props, policy, urn=""):
    return [d.message.split("\n", 1)[1] for d in analyze(resource_type, name, props, urn=urn)
            if d.policy == policy and d.mandatory]


@pytest.mark.parametrize("ingress", [
    [{}],                                                        # no from, no ports
    [{"from": [{}]}],                                            # an empty peer
    [{"from": [{"namespaceSelector": {}}]}],                     # every namespace
    [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],             # every address
])
def test_allow_all_ingress_beside_the_default_deny_is_refused(ingress):
    props = {"metadata": {"name": "allow-all", "namespace": "dynamo-workload"},
             "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": ingress}}
    found = mandatory(NETPOL, "allow-all", props, "no-allow-all-ingress")
    assert len(found) == 1 and found[0].startswith('NetworkPolicy "allow-all": ingress[0] admits ')
    assert found[0].endswith("which undoes the namespace's default-deny; name the sources and the ports")


@pytest.mark.parametrize("ingress", [
    [{"ports": [{"port": 3000}]}],                                       # the booth's public port
    [{"from": [{"podSelector": {}}]}],                                   # the same namespace (monitoring)
    [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}],
])
def test_the_programs_allows_pass(ingress):
    props = {"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": ingress}}
    assert mandatory(NETPOL, "p", props, "no-allow-all-ingress") == []


@pytest.mark.parametrize("spec,expected", [
    ({"type": "NodePort", "selector": {"nvidia.com/dynamo-component-type": "frontend"}, "ports": [{"port": 8000}]},
     "type NodePort opens a port on every node"),
    ({"selector": {"nvidia.com/dynamo-component-type": "frontend"}, "externalIPs": ["203.0.113.9"],
      "ports": [{"port": 8000}]}, "spec.externalIPs publishes the Service"),
])
def test_node_port_or_external_ips_on_a_frontend_is_refused(spec, expected):
    found = mandatory(SERVICE, "frontend-np", {"metadata": {"name": "f"}, "spec": spec}, "no-node-ports-or-external-ips")
    assert len(found) == 1 and expected in found[0]
    clusterip = {"metadata": {"name": "f"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    assert mandatory(SERVICE, "f", clusterip, "no-node-ports-or-external-ips") == []


def test_privileged_psa_outside_monitoring_is_refused():
    def ns(name, level):
        return {"metadata": {"name": name, "labels": {PSA: level}}}
    found = mandatory(NAMESPACE, "ns-w", ns("dynamo-workload", "privileged"), "namespaces-pod-security-labels")
    assert len(found) == 1 and 'namespace "dynamo-workload" enforces "privileged"' in found[0]
    assert mandatory(NAMESPACE, "ns-m", ns("monitoring", "privileged"), "namespaces-pod-security-labels") == []
    assert mandatory(NAMESPACE, "ns-w", ns("dynamo-workload", "baseline"), "namespaces-pod-security-labels") == []


def test_host_path_and_host_port_on_the_load_generator_are_refused():
    c = container("loadgen", ports=[{"containerPort": 3000, "hostPort": 3000}])
    props = deployment(c, volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    found = mandatory(DEPLOYMENT, "loadgen", props, "no-host-paths-or-host-ports")
    assert found == ['Deployment "loadgen": hostPath volume \'/\' reaches into the node',
                     'Deployment "loadgen": container "loadgen" hostPort 3000 binds a port on the node']
    clean = deployment(container("loadgen", ports=[{"containerPort": 3000}]),
                       volumes=[{"name": "tmp", "emptyDir": {}}])
    assert mandatory(DEPLOYMENT, "loadgen", clean, "no-host-paths-or-host-ports") == []


@pytest.mark.parametrize("rule", [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
])
def test_cluster_role_that_reads_secrets_is_refused(rule):
    props = {"metadata": {"name": "reader"}, "rules": [rule]}
    found = mandatory(CLUSTER_ROLE, "reader", props, "rbac-roles-least-privilege")
    assert any("reads or writes Secrets in every namespace" in m for m in found), found
    configmaps = {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}
    assert mandatory(CLUSTER_ROLE, "r", configmaps, "rbac-roles-least-privilege") == []


def test_control_token_as_a_command_line_argument_is_refused():
    argv = container("loadgen", args=["serve", "--control-token", secret("t" * 40)])
    found = mandatory(DEPLOYMENT, "loadgen", deployment(argv), "no-secrets-on-command-lines")
    assert found == ['Deployment "loadgen": container "loadgen" passes a secret in its command line (visible in '
                     "`ps` and the pod spec); pass it as an environment variable from a Secret"]
    plain = container("loadgen", args=["serve", "--port", "3000"])
    assert mandatory(DEPLOYMENT, "loadgen", deployment(plain), "no-secrets-on-command-lines") == []


@pytest.mark.parametrize("allowlist", [["0.0.0.0/1", "128.0.0.0/1"], ["10.0.0.0/8"], ["::/1"]])
def test_an_allowlist_that_is_the_internet_in_pieces_is_refused(allowlist):
    props = {"name": "gtc-demo", "version": "1.33.1-do.0",
             "controlPlaneFirewall": {"enabled": True, "allowedAddresses": allowlist}}
    urn = f"urn:pulumi:prod::gtc-demo::{CLUSTER}::infra-cluster"
    found = mandatory(CLUSTER, "infra-cluster", props, "prod-control-plane-allowlist", urn=urn)
    assert len(found) == 1 and allowlist[0] in found[0]
    props["controlPlaneFirewall"]["allowedAddresses"] = ["198.51.100.7/32", "203.0.113.0/24"]
    assert mandatory(CLUSTER, "infra-cluster", props, "prod-control-plane-allowlist", urn=urn) == []


def test_the_config_check_and_the_rule_share_the_bound():
    from components.config import ALLOWLIST_MIN_PREFIX
    from gtc_policy.rules.cluster_access import MIN_PREFIX
    assert ALLOWLIST_MIN_PREFIX == MIN_PREFIX
