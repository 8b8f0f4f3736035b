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
