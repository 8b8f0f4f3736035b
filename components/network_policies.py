"""Who may talk to whom inside the cluster: Pod Security Admission levels per namespace, a default-deny
NetworkPolicy in every namespace we create, and the few allows the demo needs.

Reachability after this (docs/security.md has the table):
- Dynamo frontends (port 8000): from the load generator and the verification Job (pods labelled
  FRONTEND_CLIENT; the Job also reaches the Kubernetes API and the public URL), from the graph's own pods
  (workers stream responses and KV events back), and from Prometheus (its metrics ports only: 8000 serves
  /metrics too). Nothing else: they serve the model without any token.
- Workers: from the graph's pods, and from Prometheus on the metrics ports only.
- Load generator: its public port from the Gateway's Envoy only (a CiliumNetworkPolicy: Cilium gives Gateway
  traffic the reserved `ingress` identity, which a Kubernetes NetworkPolicy cannot name), so no pod can hold
  its connections; its internal port (/metrics, full texts, /healthz) from the Prometheus pods and the node
  (the kubelet's probes: Cilium's `host` entity), nothing else.
- Egress from `dynamo-workload`: DNS, the graph's own pods, TCP 443/6443 for the Kubernetes API (Dynamo's
  discovery; the API server's address is not known to a NetworkPolicy), and HTTPS to public addresses for
  the load generator (DO Serverless Inference), the model Jobs (Hugging Face, Spaces) and the verification
  Job (the public URL). No route from a workload pod to Prometheus, Grafana or another namespace's services.
- Platform namespaces (`monitoring`, `cert-manager`, `external-dns`, `dynamo-system`): default-deny ingress,
  then their webhooks (from the API server), metrics from Prometheus, and Grafana's port (public at
  /grafana, from the Gateway's Envoy only, like the load generator). In `monitoring`, every pod but Prometheus may reach only DNS, the namespace's own pods and the
  Kubernetes API's ports, never the cloud metadata address. Prometheus keeps open egress: it scrapes the
  kubelets and node-exporter on the nodes' addresses, which a Kubernetes NetworkPolicy on Cilium cannot
  select (CIDR rules do not match cluster nodes by default). The controllers' egress stays open (the
  Kubernetes API, Let's Encrypt and the DigitalOcean API).
Plain Kubernetes NetworkPolicies (Cilium enforces them on DOKS), checked against the Kubernetes schema, and
one CiliumNetworkPolicy where only a Cilium identity says it (checked against Cilium v1.18.4's CRD, vendored).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.k8s_common import (
    FRONTEND_CLIENT,
    FRONTEND_PORT,
    GRAPH_METRICS_PORTS,
    GRAPH_ROLE,
    PART_OF,
    PROMETHEUS_POD,
    VERIFICATION_SELECTOR,
)

PSA = "pod-security.kubernetes.io"
# enforce level per namespace, and why it is not `restricted` where it is not (warn/audit are always restricted):
# data the policy pack reads too, so the pack refuses any other level.
PSA_ENFORCE: dict[str, tuple[str, str]] = {
    namespace: (entry["enforce"], entry["why"])
    for namespace, entry in json.loads((Path(__file__).resolve().parents[1] / "manifests" / "pod-security.json")
                                       .read_text())["namespaces"].items()}
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]
CLOUD_METADATA = "169.254.169.254/32"  # the droplet's metadata service (user data included)
# Webhook ports the API server calls (from `helm template` of the vendored charts).
WEBHOOK_PORTS = {"cert-manager": [10250], "monitoring": [10250], "dynamo-system": [9443]}
METRICS_PORTS = {"cert-manager": [9402], "external-dns": [7979], "dynamo-system": [8080]}
GRAFANA_SELECTOR = {"app.kubernetes.io/name": "grafana"}
GRAFANA_PORT = 3000
KUBE_API_PORTS = (443, 6443)


def namespace_labels(namespace: str) -> dict[str, str]:
    """PART_OF plus the Pod Security Admission labels of `namespace`."""
    level, _why = PSA_ENFORCE[namespace]
    return {**PART_OF, f"{PSA}/enforce": level, f"{PSA}/enforce-version": "latest",
            f"{PSA}/warn": "restricted", f"{PSA}/audit": "restricted"}


def _ns_selector(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _ports(*ports: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": port, "protocol": protocol} for port in ports]


def _prometheus() -> dict[str, Any]:
    """One peer: the Prometheus pods in `monitoring` (both selectors in one entry: AND)."""
    return {**_ns_selector("monitoring"), "podSelector": {"matchLabels": dict(PROMETHEUS_POD)}}


def _dns() -> dict[str, Any]:
    return {"to": [_ns_selector("kube-system")], "ports": _ports(53, protocol="UDP") + _ports(53)}


def _graph_pods() -> dict[str, Any]:
    return {"matchExpressions": [{"key": GRAPH_ROLE, "operator": "In", "values": ["frontend", "worker"]}]}


def workload_policies(loadgen_labels: dict[str, str], internal_port: int, public_port: int,
                      pipeline_labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """NetworkPolicy specs for dynamo-workload, by name."""
    dns = _dns()
    public_https = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}], "ports": _ports(443)}
    kube_api = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _ports(*KUBE_API_PORTS)}
    return {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [dns]},
        "graph-internal": {
            "podSelector": _graph_pods(), "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": _graph_pods()}]}],
            "egress": [{"to": [{"podSelector": _graph_pods()}]}],
        },
        "frontends-from-clients": {
            "podSelector": {"matchLabels": {GRAPH_ROLE: "frontend"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": dict(FRONTEND_CLIENT)}}],
                         "ports": _ports(FRONTEND_PORT)}],
        },
        "clients-to-frontends": {
            "podSelector": {"matchLabels": dict(FRONTEND_CLIENT)}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {GRAPH_ROLE: "frontend"}}}],
                        "ports": _ports(FRONTEND_PORT)}],
        },
        "metrics-from-prometheus": {
            "podSelector": _graph_pods(), "policyTypes": ["Ingress"],
            "ingress": [{"from": [_prometheus()], "ports": _ports(*GRAPH_METRICS_PORTS)}],
        },
        "graph-to-kube-api": {
            "podSelector": _graph_pods(), "policyTypes": ["Egress"], "egress": [kube_api],
        },
        "loadgen-metrics-from-prometheus": {
            "podSelector": {"matchLabels": dict(loadgen_labels)}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [_prometheus()], "ports": _ports(internal_port)}],
        },
        "loadgen-to-followup-api": {
            "podSelector": {"matchLabels": dict(loadgen_labels)}, "policyTypes": ["Egress"],
            "egress": [public_https],
        },
        "verification-to-public-url-and-kube-api": {  # the public HTTPS URL, and its report ConfigMap
            "podSelector": {"matchLabels": dict(VERIFICATION_SELECTOR)}, "policyTypes": ["Egress"],
            "egress": [public_https, kube_api],
        },
        "model-jobs-to-hub-and-spaces": {
            "podSelector": {"matchLabels": dict(pipeline_labels)}, "policyTypes": ["Egress"],
            "egress": [public_https],
        },
    }


def platform_policies(namespace: str) -> dict[str, dict[str, Any]]:
    """Default-deny ingress plus webhooks and metrics for a platform namespace (egress stays open)."""
    specs: dict[str, dict[str, Any]] = {"default-deny-ingress": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    if namespace in WEBHOOK_PORTS:  # from the API server: no `from`, the port is the whole allow
        specs["webhooks-from-apiserver"] = {"podSelector": {}, "policyTypes": ["Ingress"],
                                            "ingress": [{"ports": _ports(*WEBHOOK_PORTS[namespace])}]}
    if namespace in METRICS_PORTS:
        specs["metrics-from-prometheus"] = {"podSelector": {}, "policyTypes": ["Ingress"],
                                            "ingress": [{"from": [_prometheus()],
                                                         "ports": _ports(*METRICS_PORTS[namespace])}]}
    if namespace == "monitoring":  # Prometheus, Grafana, the exporters and the operator talk among themselves
        specs["monitoring-internal"] = {"podSelector": {}, "policyTypes": ["Ingress"],
                                        "ingress": [{"from": [{"podSelector": {}}]}]}
        not_prometheus = {"matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]}
                                               for key, value in PROMETHEUS_POD.items()]}
        specs["egress-except-prometheus"] = {
            "podSelector": not_prometheus, "policyTypes": ["Egress"],
            "egress": [_dns(), {"to": [{"podSelector": {}}]},
                       {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [CLOUD_METADATA]}}], "ports": _ports(*KUBE_API_PORTS)}],
        }
    return specs


def gateway_backend_policy(labels: dict[str, str], public_port: int, probe_port: int) -> dict[str, Any]:
    """A Gateway backend's ports by Cilium identity: the routed one from the Gateway's Envoy only (`ingress`),
    the kubelet's probes from the node (`host`). Other allows (Prometheus) stay Kubernetes policies."""
    def port(number: int) -> list[dict[str, Any]]:
        return [{"ports": [{"port": str(number), "protocol": "TCP"}]}]
    return {
        "endpointSelector": {"matchLabels": dict(labels)},
        "ingress": [{"fromEntities": ["ingress"], "toPorts": port(public_port)},
                    {"fromEntities": ["host"], "toPorts": port(probe_port)}],
    }


def edge_policies(loadgen_labels: dict[str, str], loadgen_internal_port: int, loadgen_public_port: int) -> dict[tuple[str, str], dict[str, Any]]:
    """CiliumNetworkPolicy specs by (namespace, name): what the Gateway routes to (the UI and /grafana)."""
    return {
        ("dynamo-workload", "loadgen-edge"): gateway_backend_policy(loadgen_labels, loadgen_public_port, loadgen_internal_port),
        ("monitoring", "grafana-edge"): gateway_backend_policy(GRAFANA_SELECTOR, GRAFANA_PORT, GRAFANA_PORT),
    }


class NetworkPolicies(pulumi.ComponentResource):
    """The NetworkPolicies above, each waiting for its namespace."""

    def __init__(self, name: str, namespaces: dict[str, k8s.core.v1.Namespace], *, loadgen_labels: dict[str, str],
                 loadgen_internal_port: int, loadgen_public_port: int, pipeline_labels: dict[str, str],
                 after: Optional[list[pulumi.Resource]] = None, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:platform:NetworkPolicies", name, None, opts)
        self.policies: dict[tuple[str, str], k8s.networking.v1.NetworkPolicy] = {}
        specs: dict[tuple[str, str], dict[str, Any]] = {}
        for namespace in namespaces:
            chosen = (workload_policies(loadgen_labels, loadgen_internal_port, loadgen_public_port, pipeline_labels)
                      if namespace == "dynamo-workload" else platform_policies(namespace))
            specs.update({(namespace, policy): spec for policy, spec in chosen.items()})
        for (namespace, policy), spec in specs.items():
            self.policies[(namespace, policy)] = k8s.networking.v1.NetworkPolicy(
                f"{name}-{namespace}-{policy}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy, namespace=namespace, labels=dict(PART_OF)),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespaces[namespace]]),
            )
        self.edge = {
            (namespace, policy): k8s.apiextensions.CustomResource(
                f"{name}-{namespace}-{policy}",
                api_version="cilium.io/v2", kind="CiliumNetworkPolicy",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy, namespace=namespace, labels=dict(PART_OF)),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespaces[namespace], *(after or [])]),
            )
            for (namespace, policy), spec in edge_policies(loadgen_labels, loadgen_internal_port, loadgen_public_port).items()
            if namespace in namespaces
        }
        self.register_outputs({})
