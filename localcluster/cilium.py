"""What DOKS's Cilium brings to a cluster, brought to the local one by Cilium's own operator.

On DOKS the Gateway API CRDs, the `cilium` GatewayClass and Cilium's CRDs come with the cluster, and
Cilium's operator turns each Gateway and HTTPRoute into an Envoy configuration (a CiliumEnvoyConfig), a
LoadBalancer Service and their status. The local cluster does the same with the real thing:

- the Gateway API CRDs DOKS serves (vendor/crds, Gateway API v1.2.1's standard channel, GRPCRoute included:
  Cilium's controller will not start without it) are applied before the operator starts, as on DOKS;
- `cilium-operator-generic` v1.18.4 (built from the Go module by localcluster/tools.py) runs with the
  Gateway API controller and LB-IPAM on; it creates Cilium's CRDs itself (CiliumNetworkPolicy, CiliumEnvoyConfig, ...);
  it is started again whenever it exits (localcluster/restart_always.py), as kubelet restarts it on DOKS when it
  exits on losing its leader lease;
- the `cilium` GatewayClass as Cilium's chart creates it (install/kubernetes/cilium/templates/
  cilium-gateway-api-class.yaml), and one LB-IPAM pool so a Gateway's Service gets an address (on DOKS the
  DigitalOcean load balancer gives it one).

What does not run: Cilium's agent and Envoy (no pod runs on kwok nodes), so nothing serves the translated
configuration; what is checked is that Cilium's own translation accepts the program's Gateway and routes and
what it produced (the e2e reads the CiliumEnvoyConfig).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import yaml

VENDOR_CRDS = Path(__file__).resolve().parents[1] / "vendor" / "crds"
GATEWAY_API_CRDS = ("gateway-api-v1.2.1-standard-crds.yaml.gz", "gateway-api-v1.2.1-grpcroutes.yaml.gz")
GATEWAY_CLASS = "cilium"
CONTROLLER_NAME = "io.cilium/gateway-controller"
LB_POOL_CIDR = "10.250.0.0/24"  # inside the cluster's network namespace only
# The CRD the operator creates last among those the cluster objects below need.
OPERATOR_CRDS = ("ciliumloadbalancerippools.cilium.io", "ciliumenvoyconfigs.cilium.io")

# The cilium-config keys the operator reads (`--config-dir`, as the chart mounts the ConfigMap). Gateway API
# support needs kube-proxy replacement (or NodePort) on and Envoy config on (the operator creates the
# CiliumEnvoyConfig CRDs only then, as the chart sets for gatewayAPI.enabled); identities as CRDs (no kvstore).
CONFIG = {
    "cluster-name": "local",
    "enable-gateway-api": "true",
    "enable-envoy-config": "true",
    "enable-l7-proxy": "true",
    "kube-proxy-replacement": "true",
    "enable-ipv4": "true",
    "enable-ipv6": "false",
    "identity-allocation-mode": "crd",
    "ipam": "kubernetes",
    "enable-lb-ipam": "true",
}


def gateway_api_crds() -> list[dict]:
    documents = []
    for name in GATEWAY_API_CRDS:
        documents += [d for d in yaml.safe_load_all(gzip.decompress((VENDOR_CRDS / name).read_bytes())) if d]
    return documents


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in CONFIG.items():
        (folder / key).write_text(value)
    return folder


def argv(binary: Path, kubeconfig: Path, config_dir: Path) -> list[str]:
    return [str(binary), f"--k8s-kubeconfig-path={kubeconfig}", f"--config-dir={config_dir}",
            "--operator-api-serve-addr=127.0.0.1:9234", "--operator-prometheus-serve-addr=",
            "--leader-election-lease-duration=15s"]


SECRETS_NAMESPACE = "cilium-secrets"  # where the operator copies the Gateways' TLS Secrets (its default)


def cluster_objects() -> list[dict]:
    """What Cilium's chart creates for the Gateway API (its GatewayClass, the namespace TLS Secrets are copied
    to) and the address pool standing in for DO's load balancer."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SECRETS_NAMESPACE}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": GATEWAY_CLASS},
         "spec": {"controllerName": CONTROLLER_NAME, "description": "The default Cilium GatewayClass"}},
        {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool", "metadata": {"name": "local"},
         "spec": {"blocks": [{"cidr": LB_POOL_CIDR}]}},
    ]
