"""Public entry: a Let's Encrypt ClusterIssuer, a Cilium Gateway with HTTPS and HTTP listeners, and the routes.

cert-manager issues the listener certificate from the Gateway's `cert-manager.io/cluster-issuer`
annotation (DNS-01 through DigitalOcean DNS); external-dns publishes the hostname of the HTTPRoutes
(platform: `sources: [gateway-httproute]`). Only the UI and Grafana are routed: the Dynamo
frontends have no public route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.k8s_common import PART_OF
from components.platform import DNS_TOKEN_KEY, DNS_TOKEN_SECRET, MONITORING_NS, WORKLOAD_NS, Platform

GATEWAY_NAME = "gtc-demo"
GATEWAY_CLASS = "cilium"
TLS_SECRET = "gtc-demo-tls"
GRAFANA_SERVICE, GRAFANA_PORT = "kube-prometheus-stack-grafana", 80
LETS_ENCRYPT_SERVERS = {
    True: "https://acme-staging-v02.api.letsencrypt.org/directory",
    False: "https://acme-v02.api.letsencrypt.org/directory",
}
GATEWAY_API = "gateway.networking.k8s.io/v1"


def issuer_name(staging: bool) -> str:
    return "letsencrypt-staging" if staging else "letsencrypt-prod"


@dataclass
class GatewayArgs:
    config: StackConfig
    platform: Platform
    loadgen_service: pulumi.Input[str]
    loadgen_port: int
    backends: list[pulumi.Resource]


class Gateway(pulumi.ComponentResource):
    """HTTPS for `https://<hostname>/` (load generator) and `https://<hostname>/grafana`."""

    def __init__(self, name: str, args: GatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:gateway:Gateway", name, None, opts)
        cfg, platform = args.config, args.platform
        self._name = name
        self._hostname = cfg.hostname
        staging = cfg.lets_encrypt.staging
        releases = [platform.releases["cert-manager"], platform.releases["external-dns"]]

        self.issuer = k8s.apiextensions.CustomResource(
            f"{name}-issuer",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=issuer_name(staging), labels=PART_OF),
            spec={"acme": {
                "email": cfg.lets_encrypt.email,
                "server": LETS_ENCRYPT_SERVERS[staging],
                "privateKeySecretRef": {"name": f"{issuer_name(staging)}-account-key"},
                "solvers": [{
                    "selector": {"dnsZones": [cfg.domain]},
                    # A ClusterIssuer reads its secrets from cert-manager's own namespace.
                    "dns01": {"digitalocean": {"tokenSecretRef": {"name": DNS_TOKEN_SECRET, "key": DNS_TOKEN_KEY}}},
                }],
            }},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[platform.releases["cert-manager"],
                                                                 platform.secrets["cert-manager"]]),
        )

        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API,
            kind="Gateway",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=GATEWAY_NAME,
                namespace=platform.namespaces[WORKLOAD_NS].metadata.name,
                labels=PART_OF,
                annotations={
                    "cert-manager.io/cluster-issuer": issuer_name(staging),
                    # `pulumi up` goes on (to the verification Job) only once Cilium has programmed it.
                    "pulumi.com/waitFor": "condition=Programmed",
                },
            ),
            spec={
                "gatewayClassName": GATEWAY_CLASS,
                "listeners": [
                    # Routes attach only from the namespaces that hold ours: the UI's and Grafana's on HTTPS,
                    # the redirect (the Gateway's own namespace) on HTTP. Not every part-of namespace.
                    self._listener("https", 443, "HTTPS", [WORKLOAD_NS, MONITORING_NS], tls={
                        "mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": TLS_SECRET}]}),
                    self._listener("http", 80, "HTTP", [WORKLOAD_NS]),
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.issuer, *releases]),
        )

        self.redirect = self._route(
            "https-redirect", WORKLOAD_NS, "http",
            [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
            platform, depends_on=[],
        )
        self.ui_route = self._route(
            "loadgen", WORKLOAD_NS, "https",
            # The live feed is a websocket: a request timeout would cut it, so it has its own rule without one.
            # Every other request gets Envoy's request timeout (Cilium translates HTTPRoute timeouts per rule).
            [{**_prefix_rule("/ws", args.loadgen_service, args.loadgen_port), "matches": [{"path": {"type": "Exact", "value": "/ws"}}]},
             {**_prefix_rule("/", args.loadgen_service, args.loadgen_port), "timeouts": {"request": LOADGEN_REQUEST_TIMEOUT}}],
            platform, depends_on=args.backends,
        )
        self.grafana_route = self._route(
            "grafana", MONITORING_NS, "https",
            [_prefix_rule("/grafana", GRAFANA_SERVICE, GRAFANA_PORT)],
            platform, depends_on=[platform.releases["kube-prometheus-stack"]],
        )

        self.ui_url = f"https://{cfg.hostname}/"
        self.grafana_url = f"https://{cfg.hostname}/grafana"
        self.register_outputs({"uiUrl": self.ui_url, "grafanaUrl": self.grafana_url,
                               "issuer": issuer_name(staging)})

    def _listener(self, name: str, port: int, protocol: str, route_namespaces: list[str],
                  tls: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                          "values": list(route_namespaces)}]}
        listener: dict[str, Any] = {
            "name": name, "port": port, "protocol": protocol, "hostname": self._hostname,
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": selector}},
        }
        if tls:
            listener["tls"] = tls
        return listener

    def _route(self, route: str, namespace: str, listener: str, rules: list[dict[str, Any]], platform: Platform,
               depends_on: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}-route-{route}",
            api_version=GATEWAY_API,
            kind="HTTPRoute",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=route, namespace=platform.namespaces[namespace].metadata.name,
                                                labels=PART_OF),
            spec={
                "parentRefs": [{"name": GATEWAY_NAME, "namespace": WORKLOAD_NS, "sectionName": listener}],
                # external-dns creates the DNS record for these hostnames.
                "hostnames": [self._hostname],
                "rules": rules,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.gateway, *depends_on]),
        )


# The load generator's longest legitimate request (a control action waits for the ControlPlane lock and a
# run's export) takes well under a second; 30 s leaves room on a busy booth and ends a stuck request.
LOADGEN_REQUEST_TIMEOUT = "30s"


def _prefix_rule(path: str, service: pulumi.Input[str], port: int) -> dict[str, Any]:
    return {
        "matches": [{"path": {"type": "PathPrefix", "value": path}}],
        "backendRefs": [{"name": service, "port": port}],
    }
