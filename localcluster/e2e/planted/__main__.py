"""A program that breaks every policy rule once, for `test_planted_violations.py` (never deployed).

Like a fresh dev/prod stack, its Kubernetes provider's kubeconfig is unknown at preview (it comes from a
resource created at `up`), so the pack sees what PR review sees. Each resource below names the rule it plants.
"""
import pulumi
import pulumi_digitalocean as do
import pulumi_kubernetes as k8s
import pulumi_random as random

# Unknown until `up`, like the DOKS kubeconfig of a fresh stack.
kubeconfig = random.RandomPassword("kubeconfig-stand-in", length=32, special=False).result
cluster = k8s.Provider("fresh-cluster", kubeconfig=kubeconfig)
on_cluster = pulumi.ResourceOptions(provider=cluster)
NS = "planted"

# namespaces-pod-security-labels, namespaces-default-deny: no PSA label, no default-deny policy.
k8s.core.v1.Namespace("ns-no-psa-no-deny", metadata={"name": NS}, opts=on_cluster)
# pinned-images, container-resources, pods-restricted-security-context, no-credentials-in-env-literals,
# gpu-pods-tolerate-taint-and-use-nvidia-runtime: one container breaking all five.
k8s.apps.v1.Deployment(
    "deployment-unpinned-gpu", metadata={"name": "app", "namespace": NS},
    spec={"selector": {"matchLabels": {"app": "x"}}, "template": {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:latest",
                                 "env": [{"name": "API_KEY", "value": "sk-planted-literal-credential"}],
                                 "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}},
    opts=on_cluster)
# no-load-balancer-services
k8s.core.v1.Service("service-load-balancer", metadata={"name": "lb", "namespace": NS},
                    spec={"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80}]}, opts=on_cluster)
# no-credentials-in-configmaps
k8s.core.v1.ConfigMap("configmap-credential", metadata={"name": "cm", "namespace": NS},
                      data={"AWS_SECRET_ACCESS_KEY": "planted-secret-in-a-configmap"}, opts=on_cluster)
# secret-data-from-pulumi-secrets
k8s.core.v1.Secret("secret-plaintext", metadata={"name": "s", "namespace": NS},
                   string_data={"HF_TOKEN": "hf_planted_plaintext"}, opts=on_cluster)
# dynamo-frontends-private
k8s.apiextensions.CustomResource(
    "route-to-frontend", api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute",
    metadata={"name": "to-frontend", "namespace": NS},
    spec={"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "gtc-demo-frontend", "port": 8000}]}]},
    opts=on_cluster)
# doks-version-pinned, prod-control-plane-allowlist (this stack is named prod): a prefix, no firewall.
do.KubernetesCluster("cluster-unpinned-open", region="atl1", version="1.33",
                     node_pool={"name": "m", "size": "s-2vcpu-4gb", "node_count": 1})
# spaces-not-public
do.SpacesBucket("bucket-public", region="atl1", acl="public-read")
do.KubernetesCluster("cluster-internet-in-two", region="atl1", version="1.33.5-do.0",
                     node_pool={"name": "m", "size": "s-2vcpu-4gb", "node_count": 1},
                     control_plane_firewall={"enabled": True, "allowed_addresses": ["0.0.0.0/1", "128.0.0.0/1"]})

# The re-audit's planted prod-plan violations (issue 22).
k8s.core.v1.Namespace("ns-workload-privileged", opts=on_cluster, metadata={
    "name": "planted-workload", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}})
k8s.networking.v1.NetworkPolicy("netpol-allow-all", metadata={"name": "allow-all", "namespace": NS},
                                spec={"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}, opts=on_cluster)
k8s.core.v1.Service("service-node-port", metadata={"name": "frontend-np", "namespace": NS}, opts=on_cluster, spec={
    "type": "NodePort", "selector": {"nvidia.com/dynamo-component-type": "frontend"}, "ports": [{"port": 8000}]})
k8s.apps.v1.Deployment(
    "deployment-host-access", metadata={"name": "loadgen", "namespace": NS}, opts=on_cluster,
    spec={"selector": {"matchLabels": {"app": "y"}}, "template": {
        "metadata": {"labels": {"app": "y"}},
        "spec": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                 "containers": [{"name": "loadgen", "image": "registry.example/loadgen:1.0.0",
                                 "args": ["serve", "--control-token", pulumi.Output.secret("t" * 40)],
                                 "ports": [{"containerPort": 3000, "hostPort": 3000}]}]}}})
k8s.rbac.v1.ClusterRole("cluster-role-secrets", metadata={"name": "secret-reader"}, opts=on_cluster,
                        rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}])

# --- The outside audit's 21 plants and the re-audit's 3 leftovers (issue 29): the same violations spelled
# another way; each names the rule that refuses it. Frontend pods come from a DGD like the program's.
WL = "dynamo-workload"
k8s.core.v1.Namespace("ns-workload", opts=on_cluster, metadata={
    "name": WL, "labels": {"pod-security.kubernetes.io/enforce": "baseline"}})
k8s.apiextensions.CustomResource(
    "graph", api_version="nvidia.com/v1beta1", kind="DynamoGraphDeployment", opts=on_cluster,
    metadata={"name": "gtc-demo", "namespace": WL},
    spec={"components": [{"name": "Frontend", "type": "frontend", "podTemplate": {
        "metadata": {"labels": {"gtc-demo/graph-role": "frontend"}},
        "spec": {"containers": [{"name": "main", "image": "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.0.0"}]}}}]})
# no-allow-all-ingress: four spellings of "everyone, every port".
for i, ingress in enumerate([
        [{"ports": [{"protocol": "TCP"}]}],                                               # a port entry with only a protocol
        [{"ports": [{"port": 1, "endPort": 65535}]}],                                     # the whole range
        [{"from": [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}]}],  # the internet in two
        [{"from": [{"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}}]}]]):            # every namespace
    k8s.networking.v1.NetworkPolicy(f"netpol-open-{i}", metadata={"name": f"open-{i}", "namespace": WL},
                                    spec={"podSelector": {"matchLabels": {"app": "other"}}, "ingress": ingress},
                                    opts=on_cluster)
# model-api-private: a Service not named "frontend" selecting the frontend pods, a route to it, a mirror to it,
# an opt-in LoadBalancer on them, and a NetworkPolicy admitting an address block on port 8000.
k8s.core.v1.Service("service-inference", metadata={"name": "inference", "namespace": WL}, opts=on_cluster,
                    spec={"selector": {"gtc-demo/graph-role": "frontend"}, "ports": [{"port": 8000}]})
k8s.apiextensions.CustomResource(
    "route-v1", api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute", opts=on_cluster,
    metadata={"name": "v1", "namespace": WL},
    spec={"parentRefs": [{"name": "gtc-demo", "sectionName": "https"}], "rules": [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
        "backendRefs": [{"name": "inference", "port": 8000}]}]})
k8s.apiextensions.CustomResource(
    "route-mirror", api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute", opts=on_cluster,
    metadata={"name": "mirror", "namespace": WL},
    spec={"parentRefs": [{"name": "gtc-demo", "sectionName": "https"}], "rules": [{
        "backendRefs": [{"name": "loadgen", "port": 3000}],
        "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "gtc-demo-frontend", "port": 8000}}}]}]})
k8s.core.v1.Service("service-lb-frontend", metadata={
    "name": "api", "namespace": WL, "annotations": {"policy.gtc-demo.io/allow-load-balancer": "true"}}, opts=on_cluster,
    spec={"type": "LoadBalancer", "selector": {"nvidia.com/dynamo-component-type": "frontend"}, "ports": [{"port": 8000}]})
k8s.networking.v1.NetworkPolicy("netpol-frontend-8000", metadata={"name": "inference", "namespace": WL}, opts=on_cluster,
                                spec={"podSelector": {"matchLabels": {"gtc-demo/graph-role": "frontend"}},
                                      "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 8000}]}]})
# gateway-routes-from-named-namespaces, model-api-private: a second Gateway, plain HTTP, routes from all namespaces.
k8s.apiextensions.CustomResource(
    "gateway-main", api_version="gateway.networking.k8s.io/v1", kind="Gateway", opts=on_cluster,
    metadata={"name": "gtc-demo", "namespace": WL},
    spec={"gatewayClassName": "cilium", "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS"}]})
k8s.apiextensions.CustomResource(
    "gateway-plain-http", api_version="gateway.networking.k8s.io/v1", kind="Gateway", opts=on_cluster,
    metadata={"name": "plain", "namespace": WL},
    spec={"gatewayClassName": "cilium", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                                                       "allowedRoutes": {"namespaces": {"from": "All"}}}]})
# rbac-bindings-scoped, rbac-roles-least-privilege
k8s.rbac.v1.ClusterRoleBinding("crb-admin-to-all-accounts", opts=on_cluster, metadata={"name": "everyone-admin"},
                               role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                               subjects=[{"kind": "Group", "name": "system:serviceaccounts", "apiGroup": "rbac.authorization.k8s.io"}])
k8s.rbac.v1.ClusterRole("cluster-role-escalating", opts=on_cluster, metadata={"name": "helper"}, rules=[
    {"apiGroups": [""], "resources": ["pods/exec", "serviceaccounts/token"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate", "bind"]}])
k8s.rbac.v1.RoleBinding("rb-admin", opts=on_cluster, metadata={"name": "admin", "namespace": WL},
                        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                        subjects=[{"kind": "ServiceAccount", "name": "default", "namespace": WL}])
# pods-only-in-kinds-the-pack-reads: a ReplicationController (privileged, host namespaces, hostPath /, untagged, no
# limits) and a DeploymentPatch making cert-manager privileged.
k8s.core.v1.ReplicationController("rc-privileged", metadata={"name": "rc", "namespace": WL}, opts=on_cluster, spec={
    "selector": {"app": "rc"}, "template": {"metadata": {"labels": {"app": "rc"}}, "spec": {
        "hostNetwork": True, "hostPID": True, "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
        "containers": [{"name": "rc", "image": "busybox", "securityContext": {"privileged": True}}]}}})
k8s.apps.v1.DeploymentPatch("patch-cert-manager", metadata={"name": "cert-manager", "namespace": "cert-manager"},
                            opts=on_cluster, spec={"template": {"spec": {"containers": [
                                {"name": "cert-manager-controller", "securityContext": {"privileged": True}}]}}})
# pulumi-secrets-only-in-secrets, no-credential-literals, no-credential-flags-on-command-lines, api-tokens-only-where-bound
k8s.core.v1.ConfigMap("configmap-innocuous", metadata={"name": "settings", "namespace": WL}, opts=on_cluster,
                      data={"upstream": pulumi.Output.secret("planted-secret-under-an-innocuous-name")})
k8s.apps.v1.Deployment(
    "deployment-loadgen-leaks", metadata={"name": "loadgen-leaks", "namespace": WL}, opts=on_cluster,
    spec={"selector": {"matchLabels": {"app": "lg"}}, "template": {
        "metadata": {"labels": {"app": "lg"}},
        "spec": {"automountServiceAccountToken": True, "serviceAccountName": "loadgen", "containers": [{
            "name": "loadgen", "image": "registry.example/loadgen:1.0.0",
            "args": ["serve", "--control-token", "planted-plaintext-control-token-0123456789",
                     "--upstream-auth", "dop_v1_" + "0a" * 32],
            "env": [{"name": "SETTING", "value": pulumi.Output.secret("planted-secret-in-an-env-literal")}]}]}}})
# workloads-in-managed-namespaces: a Deployment in `default`.
k8s.apps.v1.Deployment(
    "deployment-in-default", metadata={"name": "stray", "namespace": "default"}, opts=on_cluster,
    spec={"selector": {"matchLabels": {"app": "s"}}, "template": {"metadata": {"labels": {"app": "s"}}, "spec": {
        "automountServiceAccountToken": False,
        "containers": [{"name": "s", "image": "registry.example/s:1.0.0"}]}}})
# namespaces-pod-security-labels: cert-manager lowered from restricted to baseline.
k8s.core.v1.Namespace("ns-cert-manager-lowered", opts=on_cluster, metadata={
    "name": "cert-manager", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}})
# prod-control-plane-allowlist: 250 /16 entries (16.4 M addresses), each within the per-entry bound.
do.KubernetesCluster("cluster-wide-allowlist", region="atl1", version="1.33.5-do.0",
                     node_pool={"name": "m", "size": "s-2vcpu-4gb", "node_count": 1},
                     control_plane_firewall={"enabled": True,
                                             "allowed_addresses": [f"{i}.0.0.0/16" for i in range(1, 251)]})
# helm-releases-rendered, grafana-sidecar-own-namespace: kube-prometheus-stack's values open Grafana and Prometheus
# on node ports, put Prometheus on the host network, and point a sidecar at a second namespace.
k8s.core.v1.Namespace("ns-monitoring", opts=on_cluster, metadata={
    "name": "monitoring", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}})
k8s.helm.v3.Release("kps-opened", name="kube-prometheus-stack", namespace="monitoring", opts=on_cluster,
                    chart="./vendor/charts/kube-prometheus-stack-79.5.0.tgz", values={
                        "grafana": {"service": {"type": "NodePort"}, "rbac": {"namespaced": True},
                                    "sidecar": {"dashboards": {"searchNamespace": "monitoring,dynamo-workload"}}},
                        "prometheus": {"service": {"type": "NodePort"}, "prometheusSpec": {"hostNetwork": True}}})
