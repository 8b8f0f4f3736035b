"""Issue 29: the pack decides on what is reached and what can be done, whatever the spelling.

Each attack of the outside audit is tried in at least four spellings (the audit's and three others), each
must be refused with its rule's message, and the program's own shape of the same object must pass."""
import pytest

from policy_harness import DEPLOYMENT, analyze, analyze_stack, container, deployment, dgd_v1beta1, secret

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"
SERVICE = "kubernetes:core/v1:Service"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
GRPCROUTE = "kubernetes:gateway.networking.k8s.io/v1:GRPCRoute"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
DGD = "kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
CRB = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
RB = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
NAMESPACE = "kubernetes:core/v1:Namespace"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
WL = "dynamo-workload"


def mandatory(resource_type, props, policy, name="x"):
    return [d.message.split("\n", 1)[1] for d in analyze(resource_type, name, props) if d.policy == policy and d.mandatory]


def stack(policy, *resources):
    return [d.message.split("\n", 1)[1] for d in analyze_stack(resources) if d.policy == policy]


# --- allow-all ingress, however written ------------------------------------------------------------------

@pytest.mark.parametrize("ingress,expected", [
    ([{}], "admits every pod in every namespace on every port"),
    ([{"ports": [{"protocol": "TCP"}]}], "admits every pod in every namespace on every port"),
    ([{"ports": [{"port": 1, "endPort": 65535}]}], "admits every pod in every namespace on every port"),
    ([{"ports": [{"port": 1, "endPort": 30000}, {"port": 30001, "endPort": 65535}]}], "on every port"),
    ([{"ports": [{"port": 1024, "endPort": 4096, "protocol": "UDP"}]}], "on 3,073 ports"),
    ([{"from": [{"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}}]}], "every pod in every namespace"),
    ([{"from": [{"namespaceSelector": {"matchExpressions": [
        {"key": "team", "operator": "DoesNotExist"}]}, "podSelector": {}}]}], "every pod in every namespace"),
    ([{"from": [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}]}], "public addresses"),
    ([{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]}],
     "public addresses"),
    ([{"from": [{"ipBlock": {"cidr": "203.0.113.7/32"}}], "ports": [{"port": 3000}]}], "admits 1 public addresses"),
    ([{"from": [{"ipBlock": {"cidr": "::/0"}}], "ports": [{"port": 3000}]}], "public addresses"),
])
def test_allow_all_ingress_in_every_spelling_is_refused(ingress, expected):
    props = {"metadata": {"name": "p", "namespace": WL}, "spec": {"podSelector": {}, "ingress": ingress}}
    found = mandatory(NETPOL, props, "no-allow-all-ingress")
    assert found and expected in found[0], found


@pytest.mark.parametrize("ingress", [
    [{"ports": [{"port": 3000, "protocol": "TCP"}]}],
    [{"ports": [{"port": 8000, "endPort": 8010}]}],
    [{"from": [{"podSelector": {}}]}],
    [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}],
    [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
])
def test_named_sources_or_ports_pass(ingress):
    props = {"metadata": {"name": "p", "namespace": WL}, "spec": {"podSelector": {}, "ingress": ingress}}
    assert mandatory(NETPOL, props, "no-allow-all-ingress") == []


@pytest.mark.parametrize("rule,expected", [
    ({"fromEntities": ["world"]}, "the internet"),
    ({"fromEntities": ["all"], "toPorts": [{"ports": [{"port": "3000"}]}]}, "the internet"),
    ({"fromCIDR": ["0.0.0.0/0"]}, "public addresses by CIDR"),
    ({"fromCIDRSet": [{"cidr": "64.0.0.0/2"}]}, "public addresses by CIDR"),
    ({"fromEntities": ["cluster"]}, "every pod in the cluster"),
])
def test_cilium_policies_that_open_to_everyone_are_refused(rule, expected):
    props = {"metadata": {"name": "c", "namespace": WL}, "spec": {"endpointSelector": {}, "ingress": [rule]}}
    found = mandatory(CNP, props, "no-allow-all-ingress")
    assert found and expected in found[0], found
    ours = {"metadata": {"name": "c", "namespace": WL}, "spec": {"endpointSelector": {}, "ingress": [
        {"fromEntities": ["ingress"], "toPorts": [{"ports": [{"port": "3000", "protocol": "TCP"}]}]}]}}
    assert mandatory(CNP, ours, "no-allow-all-ingress") == []


# --- the model API: by selector, not by name ---------------------------------------------------------------

def graph():
    props = dgd_v1beta1()
    props["spec"]["components"][0]["podTemplate"]["metadata"] = {"labels": {"gtc-demo/graph-role": "frontend"}}
    return (DGD, "graph", props)


def service(name, selector, **spec):
    return (SERVICE, name, {"metadata": {"name": name, "namespace": WL}, "spec": {"selector": selector,
                                                                              "ports": [{"port": 8000}], **spec}})


@pytest.mark.parametrize("selector", [
    {"gtc-demo/graph-role": "frontend"},                          # the program's label
    {"nvidia.com/dynamo-component-type": "frontend"},             # the operator's label
    {"nvidia.com/dynamo-component": "Frontend"},                  # an operator label the pack does not list
    {"gtc-demo/graph-role": "frontend", "nvidia.com/dynamo-graph-deployment-name": "gtc-demo"},
])
@pytest.mark.parametrize("route_kind,spec", [
    (HTTPROUTE, lambda b: {"rules": [{"backendRefs": [{"name": b, "port": 8000}]}]}),
    (GRPCROUTE, lambda b: {"rules": [{"backendRefs": [{"name": b, "port": 8000, "kind": "Service"}]}]}),
    (HTTPROUTE, lambda b: {"rules": [{"backendRefs": [{"name": "loadgen", "port": 3000}], "filters": [
        {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": b, "port": 8000}}}]}]}),
    (INGRESS, lambda b: {"defaultBackend": {"service": {"name": b, "port": {"number": 8000}}}}),
])
def test_any_route_to_any_service_of_the_frontend_pods_is_refused(selector, route_kind, spec):
    route = (route_kind, "r", {"metadata": {"name": "r", "namespace": WL}, "spec": spec("inference-api")})
    found = stack("model-api-private", graph(), service("inference-api", selector), route)
    assert any('sends traffic to "inference-api", a Service of the Dynamo frontend pods' in m for m in found), found
    other = service("inference-api", {"app.kubernetes.io/name": "loadgen"})
    assert stack("model-api-private", graph(), other, route) == []


def test_a_route_to_the_operators_frontend_service_is_refused_by_its_graph_not_its_name():
    route = (HTTPROUTE, "r", {"metadata": {"name": "r", "namespace": WL},
                              "spec": {"rules": [{"backendRefs": [{"name": "gtc-demo-frontend", "port": 8000}]}]}})
    assert stack("model-api-private", graph(), route)


@pytest.mark.parametrize("spec", [{"type": "LoadBalancer"}, {"type": "NodePort"}, {"externalIPs": ["203.0.113.9"]},
                                  {"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/8"]}])
def test_publishing_the_frontend_pods_is_refused_even_when_opted_in(spec):
    svc = service("api", {"nvidia.com/dynamo-component-type": "frontend"}, **spec)
    svc[2]["metadata"]["annotations"] = {"policy.gtc-demo.io/allow-load-balancer": "true"}
    found = stack("model-api-private", graph(), svc)
    assert found and "selects the Dynamo frontend pods and publishes them" in found[0], found


@pytest.mark.parametrize("peer,expected", [
    ({"ipBlock": {"cidr": "10.0.0.0/8"}}, "an address block"),
    ({"namespaceSelector": {}}, "another namespace"),
    ({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}, "another namespace"),
    ({"namespaceSelector": {"matchLabels": {"team": "ml"}}, "podSelector": {}}, "another namespace"),
])
def test_a_policy_that_lets_outsiders_reach_the_frontend_pods_is_refused(peer, expected):
    policy = (NETPOL, "np", {"metadata": {"name": "np", "namespace": WL}, "spec": {
        "podSelector": {"matchExpressions": [{"key": "gtc-demo/graph-role", "operator": "In", "values": ["frontend"]}]},
        "ingress": [{"from": [peer], "ports": [{"port": 8000}]}]}})
    found = stack("model-api-private", graph(), policy)
    assert found and expected in found[0], found
    prometheus = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                  "podSelector": {"matchLabels": {"operator.prometheus.io/name": "kps-prometheus"}}}
    policy[2]["spec"]["ingress"] = [{"from": [prometheus, {"podSelector": {"matchLabels": {"gtc-demo/frontend-client": "true"}}}]}]
    assert stack("model-api-private", graph(), policy) == []


def test_one_gateway_routes_from_named_namespaces_and_plain_http_only_redirects():
    def gateway(name, listeners):
        return (GATEWAY, name, {"metadata": {"name": name, "namespace": WL}, "spec": {"listeners": listeners}})
    ours = gateway("gtc-demo", [{"name": "https", "protocol": "HTTPS", "allowedRoutes": {"namespaces": {"from": "Selector"}}},
                                {"name": "http", "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}])
    redirect = (HTTPROUTE, "redirect", {"metadata": {"name": "redirect", "namespace": WL}, "spec": {
        "parentRefs": [{"name": "gtc-demo", "sectionName": "http"}],
        "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]}]}})
    assert stack("model-api-private", graph(), ours, redirect) == []
    served = (HTTPROUTE, "ui", {"metadata": {"name": "ui", "namespace": WL}, "spec": {
        "parentRefs": [{"name": "gtc-demo"}], "rules": [{"backendRefs": [{"name": "loadgen", "port": 3000}]}]}})
    assert any("plain-HTTP listener" in m for m in stack("model-api-private", graph(), ours, served))
    second = gateway("plain", [{"name": "http", "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}])
    assert any("one of 2 Gateways" in m for m in stack("model-api-private", graph(), ours, second))
    assert mandatory(GATEWAY, second[2], "gateway-routes-from-named-namespaces")
    assert mandatory(GATEWAY, ours[2], "gateway-routes-from-named-namespaces") == []


# --- RBAC: what a rule grants ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [CLUSTER_ROLE, ROLE])
@pytest.mark.parametrize("rule,expected", [
    ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}, "reads or writes Secrets"),
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}, "reads or writes Secrets"),
    ({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, "runs commands in other pods"),
    ({"apiGroups": [""], "resources": ["pods/*"], "verbs": ["*"]}, "runs commands in other pods"),
    ({"apiGroups": [""], "resources": ["pods/attach"], "verbs": ["get"]}, "attaches to other pods"),
    ({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}, "mints service account tokens"),
    ({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}, "impersonates"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]}, "escalate"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"]}, "bind"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["*"]}, "escalate"),
])
def test_roles_are_judged_by_what_they_grant(kind, rule, expected):
    found = mandatory(kind, {"metadata": {"name": "innocuous-viewer"}, "rules": [rule]}, "rbac-roles-least-privilege")
    assert found and any(expected in m for m in found), found


def test_the_programs_own_role_passes():
    verification = {"metadata": {"name": "verify"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["verify-report"], "verbs": ["get", "patch"]}]}
    assert mandatory(ROLE, verification, "rbac-roles-least-privilege") == []


@pytest.mark.parametrize("kind,role,subjects,expected", [
    (CRB, "cluster-admin", [{"kind": "Group", "name": "system:serviceaccounts"}], "built-in role 'cluster-admin'"),
    (CRB, "view", [{"kind": "Group", "name": "system:authenticated"}], "group 'system:authenticated'"),
    (RB, "admin", [{"kind": "ServiceAccount", "name": "default", "namespace": WL}], "built-in role 'admin'"),
    (RB, "edit", [{"kind": "ServiceAccount", "name": "loadgen", "namespace": WL}], "built-in role 'edit'"),
    (RB, "reader", [{"kind": "Group", "name": "system:serviceaccounts:dynamo-workload"}], "every account it holds"),
    (CRB, "reader", [{"kind": "User", "name": "system:anonymous"}], "anonymous"),
])
def test_bindings_of_admin_roles_or_of_every_account_are_refused(kind, role, subjects, expected):
    props = {"metadata": {"name": "b", "namespace": WL}, "roleRef": {"kind": "ClusterRole", "name": role}, "subjects": subjects}
    found = mandatory(kind, props, "rbac-bindings-scoped")
    assert found and any(expected in m for m in found), found


# --- pods in any kind, patches --------------------------------------------------------------------------

@pytest.mark.parametrize("resource_type,props", [
    ("kubernetes:core/v1:ReplicationController", {"spec": {"template": {"spec": {"containers": [container()]}}}}),
    ("kubernetes:apps/v1:ReplicaSet", {"spec": {"template": {"spec": {"containers": [container()]}}}}),
    ("kubernetes:core/v1:PodTemplate", {"template": {"spec": {"containers": [container()]}}}),
    ("kubernetes:core/v1:Pod", {"spec": {"containers": [container()]}}),
    ("kubernetes:example.com/v1:Runner", {"spec": {"workers": {"template": {"containers": [container()]}}}}),
])
def test_pods_in_kinds_the_pack_does_not_read_are_refused(resource_type, props):
    found = mandatory(resource_type, props, "pods-only-in-kinds-the-pack-reads")
    assert found and "runs pods, and only" in found[0], found


@pytest.mark.parametrize("resource_type", ["kubernetes:apps/v1:DeploymentPatch", "kubernetes:apps/v1:DaemonSetPatch",
                                           "kubernetes:core/v1:NamespacePatch", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRolePatch"])
def test_every_patch_resource_is_refused(resource_type):
    found = mandatory(resource_type, {"metadata": {"name": "cert-manager", "namespace": "cert-manager"}},
                      "pods-only-in-kinds-the-pack-reads")
    assert found and "an object the program does not own" in found[0]


def test_a_replication_controller_is_also_read_by_the_pod_rules():
    pod = {"hostNetwork": True, "volumes": [{"name": "r", "hostPath": {"path": "/"}}],
           "containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}
    props = {"metadata": {"name": "rc", "namespace": WL}, "spec": {"template": {"spec": pod}}}
    policies = {d.policy for d in analyze("kubernetes:core/v1:ReplicationController", "rc", props) if d.mandatory}
    assert {"pinned-images", "container-resources", "pods-restricted-security-context",
            "no-host-paths-or-host-ports"} <= policies, policies


# --- secrets and credentials by substance ---------------------------------------------------------------

@pytest.mark.parametrize("resource_type,props", [
    (CONFIG_MAP, {"metadata": {"name": "settings"}, "data": {"upstream": secret("s3cr3t")}}),
    (CONFIG_MAP, {"metadata": {"name": "settings", "annotations": {"note": secret("s3cr3t")}}, "data": {}}),
    (DEPLOYMENT, deployment(container(env=[{"name": "SETTING", "value": secret("s3cr3t")}]))),
    (DGD, {"metadata": {"name": "g"}, "spec": {"env": [{"name": "MODE", "value": secret("s3cr3t")}]}}),
])
def test_a_pulumi_secret_outside_a_secret_is_refused_whatever_the_field(resource_type, props):
    found = mandatory(resource_type, props, "pulumi-secrets-only-in-secrets")
    assert found and "holds a Pulumi secret" in found[0], found


@pytest.mark.parametrize("where", ["args", "annotation", "configmap", "cr"])
def test_a_credential_shaped_literal_is_refused_in_any_field(where):
    token = "dop_v1_" + "0a" * 32
    if where == "args":
        rt, props = DEPLOYMENT, deployment(container(args=["serve", "--upstream", token]))
    elif where == "annotation":
        rt, props = DEPLOYMENT, {**deployment(), "metadata": {"name": "d", "annotations": {"x": token}}}
    elif where == "configmap":
        rt, props = CONFIG_MAP, {"metadata": {"name": "c"}, "data": {"notes": f"use {token} for the api"}}
    else:
        rt, props = DGD, {"metadata": {"name": "g"}, "spec": {"components": [], "annotations": {"a": token}}}
    found = mandatory(rt, props, "no-credential-literals")
    assert found and "DigitalOcean API token literal" in found[0] and token not in found[0], found


@pytest.mark.parametrize("args", [["serve", "--control-token", "plaintext-token"], ["serve", "--control-token=plaintext-token"],
                                  ["serve", "-api-key", "k"], ["--password", "hunter2", "serve"]])
def test_a_credential_flag_with_a_literal_is_refused(args):
    found = mandatory(DEPLOYMENT, deployment(container(args=args)), "no-credential-flags-on-command-lines")
    assert found and "as a literal on its command line" in found[0], found


@pytest.mark.parametrize("args", [["serve", "--control-token", "$(CONTROL_TOKEN)"], ["serve", "--token-file", "/var/run/t"],
                                  ["serve", "--control-token-env", "CONTROL_TOKEN"]])
def test_flags_that_point_at_a_credential_pass(args):
    assert mandatory(DEPLOYMENT, deployment(container(args=args)), "no-credential-flags-on-command-lines") == []


# --- namespaces and tokens ------------------------------------------------------------------------------

@pytest.mark.parametrize("namespace,level,expected", [
    ("cert-manager", "baseline", 'its pinned level is "restricted"'),
    ("dynamo-workload", "privileged", 'its pinned level is "baseline"'),
    ("dynamo-workload", "restricted", 'its pinned level is "baseline"'),
    ("scratch", "restricted", "has no pinned Pod Security level"),
])
def test_each_namespace_enforces_its_pinned_level(namespace, level, expected):
    props = {"metadata": {"name": namespace, "labels": {"pod-security.kubernetes.io/enforce": level}}}
    found = mandatory(NAMESPACE, props, "namespaces-pod-security-labels")
    assert found and expected in found[0], found
    props["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = {"cert-manager": "restricted",
                                                                         "dynamo-workload": "baseline"}.get(namespace, "x")
    if namespace != "scratch":
        assert mandatory(NAMESPACE, props, "namespaces-pod-security-labels") == []


@pytest.mark.parametrize("namespace", ["default", "kube-system", "scratch", None])
def test_a_workload_outside_the_stacks_namespaces_is_refused(namespace):
    ns = (NAMESPACE, "ns", {"metadata": {"name": WL}})
    props = deployment()
    if namespace:
        props["metadata"]["namespace"] = namespace
    found = stack("workloads-in-managed-namespaces", ns, (DEPLOYMENT, "d", props))
    assert found and f'lives in namespace "{namespace or "default"}"' in found[0], found
    props["metadata"]["namespace"] = WL
    assert stack("workloads-in-managed-namespaces", ns, (DEPLOYMENT, "d", props)) == []


@pytest.mark.parametrize("pod,expected", [
    ({"automountServiceAccountToken": True}, "sets automountServiceAccountToken: true"),
    ({}, "mounts its account's API token"),
    ({"serviceAccountName": "loadgen"}, "mounts its account's API token"),
])
def test_a_pod_mounts_a_token_only_when_its_account_is_bound(pod, expected):
    props = deployment(**pod)
    props["metadata"]["namespace"] = WL
    found = stack("api-tokens-only-where-bound", (DEPLOYMENT, "loadgen", props))
    assert found and expected in found[0], found
    binding = (RB, "b", {"metadata": {"name": "b", "namespace": WL}, "roleRef": {"kind": "Role", "name": "r"},
                         "subjects": [{"kind": "ServiceAccount", "name": pod.get("serviceAccountName", "default")}]})
    assert stack("api-tokens-only-where-bound", (DEPLOYMENT, "loadgen", props), binding) == []
    props["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    assert stack("api-tokens-only-where-bound", (DEPLOYMENT, "loadgen", props)) == []


def test_grouping_resources_are_not_placed_in_a_namespace():
    """A ConfigGroup (the local stack's CRDs) or a Chart carries objects, not a namespace of its own."""
    ns = (NAMESPACE, "ns", {"metadata": {"name": WL}})
    group = ("kubernetes:yaml/v2:ConfigGroup", "crds", {"files": ["crds.yaml"]})
    assert stack("workloads-in-managed-namespaces", ns, group) == []
