"""The cluster platform: namespaces, RuntimeClass, secrets, model storage and the Helm releases.

Everything here runs on the cluster from `Infrastructure`; the releases wait for the node pools so
they are created after the nodes exist and removed before the pools on `pulumi destroy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.charts import release_source
from components.config import Secrets, StackConfig
from components.infra import GPU_NODE_LABEL, Infrastructure
from components.k8s_common import (
    LOADGEN_INTERNAL_PORT,
    LOADGEN_PUBLIC_PORT,
    LOADGEN_SELECTOR,
    PART_OF,
    PIPELINE_SELECTOR,
    PROMETHEUS_NAME,
)
from components.network_policies import NetworkPolicies, namespace_labels

WORKLOAD_NS = "dynamo-workload"
SYSTEM_NS = "dynamo-system"
MONITORING_NS = "monitoring"
CERT_MANAGER_NS = "cert-manager"
EXTERNAL_DNS_NS = "external-dns"

# Secret names and keys, as the seeds use them; the workloads reference these.
HF_TOKEN_SECRET, HF_TOKEN_KEY = "hf-token", "HF_TOKEN"
SPACES_SECRET, SPACES_ID_KEY, SPACES_KEY_KEY = "spaces-credentials", "SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY"
SPACES_READ_SECRET = "spaces-credentials-read"
GRADIENT_SECRET, GRADIENT_KEY = "gradient-api-key", "GRADIENT_API_KEY"
DNS_TOKEN_SECRET, DNS_TOKEN_KEY = "digitalocean-dns", "access-token"
GRAFANA_ADMIN_SECRET = "grafana-admin"
MODEL_PVC = "model-nfs-pvc"

PROMETHEUS_URL = f"http://{PROMETHEUS_NAME}.{MONITORING_NS}.svc.cluster.local:9090"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def dynamo_platform_values() -> dict[str, Any]:
    """dynamo-platform values in the keys the current chart reads (its validate-values.yaml fails the
    install on the old top-level `grove.enabled` / `kai-scheduler.enabled`, and ignores a top-level
    `prometheusEndpoint`).

    Grove and KAI stay out: one 8-GPU node running aggregated TP=4 replicas needs neither multinode
    orchestration (Grove) nor gang scheduling and queues (KAI, which also needs GPU Operator topology
    data DOKS does not provide). Set explicitly so a changed chart default cannot switch them on.
    """
    return {
        "global": {
            "grove": {"install": False, "enabled": False},
            "kai-scheduler": {"install": False, "enabled": False},
        },
        "dynamo-operator": {
            # The operator applies its CRDs (DynamoGraphDeployment, ...) itself: there is no dynamo-crds chart.
            "upgradeCRD": True,
            # Injected into the graph's pods as PROMETHEUS_ENDPOINT (the planner and metrics read it).
            "dynamo": {"metrics": {"prometheusEndpoint": PROMETHEUS_URL}},
        },
    }


# kube-state-metrics' default collectors minus `secrets` (kube-prometheus-stack 79.5.0's subchart 6.4.1): with it
# the chart grants list/watch on every Secret in the cluster for metrics no panel reads. The policy pack's
# rendered-chart rule refuses that grant (policy/README.md).
KUBE_STATE_METRICS_COLLECTORS = [
    "certificatesigningrequests", "configmaps", "cronjobs", "daemonsets", "deployments", "endpoints",
    "horizontalpodautoscalers", "ingresses", "jobs", "leases", "limitranges", "mutatingwebhookconfigurations",
    "namespaces", "networkpolicies", "nodes", "persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets",
    "pods", "replicasets", "replicationcontrollers", "resourcequotas", "services", "statefulsets", "storageclasses",
    "validatingwebhookconfigurations", "volumeattachments",
]


def grafana_least_privilege() -> dict[str, Any]:
    """Grafana's sidecars read only our monitoring namespace, through a namespaced Role.

    In the Grafana chart (kube-prometheus-stack 79.5.0 ships grafana with `rbac.namespaced: false`) any
    enabled sidecar gets a ClusterRole with get/list/watch on every ConfigMap *and Secret* in the cluster,
    whatever `searchNamespace` says, and kube-prometheus-stack defaults the dashboard sidecar to `ALL`.
    Grafana is public at /grafana, so that was a path to every Secret (the DNS token, the Spaces keys).
    Our dashboards and the datasource live in `monitoring`: `rbac.namespaced` turns the ClusterRole into a
    Role there, and the sidecars search only that namespace, dashboards from ConfigMaps only.
    """
    return {
        "rbac": {"namespaced": True},
        "sidecar": {
            "dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1",
                           "searchNamespace": MONITORING_NS, "resource": "configmap"},
            "datasources": {"searchNamespace": MONITORING_NS, "resource": "configmap"},
        },
    }


@dataclass
class PlatformArgs:
    config: StackConfig
    secrets: Secrets
    infra: Infrastructure


def _secret_data(values: dict[str, pulumi.Input[str]]) -> pulumi.Output:
    """Secret `stringData` that stays a Pulumi secret however the values were produced."""
    return pulumi.Output.secret(pulumi.Output.all(**values))


class Platform(pulumi.ComponentResource):
    """What every workload of the demo needs from the cluster before it can start."""

    def __init__(self, name: str, args: PlatformArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:platform:Platform", name, None, opts)
        cfg, infra = args.config, args.infra
        self._name = name
        self._on_nodes = infra.node_pools

        self.namespaces = {
            ns: k8s.core.v1.Namespace(
                f"{name}-ns-{ns}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels=namespace_labels(ns)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for ns in (WORKLOAD_NS, SYSTEM_NS, MONITORING_NS, CERT_MANAGER_NS, EXTERNAL_DNS_NS)
        }
        # Default-deny in every namespace, then the allows the demo needs (components/network_policies.py).
        self.network_policies = NetworkPolicies(
            f"{name}-netpol", self.namespaces, loadgen_labels=LOADGEN_SELECTOR,
            loadgen_internal_port=LOADGEN_INTERNAL_PORT, loadgen_public_port=LOADGEN_PUBLIC_PORT,
            pipeline_labels=PIPELINE_SELECTOR, after=list(self._on_nodes), opts=pulumi.ResourceOptions(parent=self))

        # The GPU workers run with runtimeClassName: nvidia (the NVIDIA container runtime); DOKS does not create the class.
        self.runtime_class = k8s.node.v1.RuntimeClass(
            f"{name}-runtimeclass-nvidia",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="nvidia"),
            handler="nvidia",
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.secrets = self._secrets(cfg, args.secrets, infra)
        self.model_pvc = self._model_storage(cfg, infra)

        self.grafana_admin_password = random.RandomPassword(
            f"{name}-grafana-admin", length=32, special=False, opts=pulumi.ResourceOptions(parent=self))
        grafana_admin = self._secret(MONITORING_NS, GRAFANA_ADMIN_SECRET, {
            "admin-user": "admin", "admin-password": self.grafana_admin_password.result})

        self.releases: dict[str, k8s.helm.v3.Release] = {}
        monitoring = self._release("kube-prometheus-stack", cfg, MONITORING_NS,
                                   self._prometheus_values(cfg), depends_on=[grafana_admin], timeout=900)
        # No dynamo-crds release: the operator applies its own CRDs (dynamo-operator.upgradeCRD) before it
        # reports ready, so the DynamoGraphDeployment, which waits for this release, finds them.
        self._release("dynamo-platform", cfg, SYSTEM_NS, dynamo_platform_values(),
                      depends_on=[monitoring, self.runtime_class], timeout=900)
        if cfg.uses_gpus:
            self._release("dcgm-exporter", cfg, MONITORING_NS, {
                "nodeSelector": {GPU_NODE_LABEL: "nvidia"},
                "tolerations": [GPU_TOLERATION],
                "serviceMonitor": {"enabled": True, "additionalLabels": {"release": "kube-prometheus-stack"}},
            }, depends_on=[monitoring])
        self._release("cert-manager", cfg, CERT_MANAGER_NS, {
            "crds": {"enabled": True},
            # cert-manager issues the Gateway's certificate from the Gateway's own annotations.
            "config": {"apiVersion": "controller.config.cert-manager.io/v1alpha1",
                       "kind": "ControllerConfiguration", "enableGatewayAPI": True},
        })
        self._release("external-dns", cfg, EXTERNAL_DNS_NS, {
            "provider": {"name": "digitalocean"},
            "env": [{"name": "DO_TOKEN", "valueFrom": {"secretKeyRef": {"name": DNS_TOKEN_SECRET, "key": DNS_TOKEN_KEY}}}],
            "sources": ["gateway-httproute"],
            # Only records under the stack's domain, and only ones this cluster created.
            "domainFilters": [cfg.domain],
            "txtOwnerId": cfg.cluster.name,
            "policy": "sync",
        }, depends_on=[self.secrets["external-dns"]])

        self.register_outputs({
            "namespaces": {ns: res.metadata.name for ns, res in self.namespaces.items()},
            "modelPvc": MODEL_PVC,
            "grafanaAdminPassword": self.grafana_admin_password.result,
        })

    # -- helpers ---------------------------------------------------------------------------------

    def _secret(self, namespace: str, secret_name: str, values: dict[str, pulumi.Input[str]]) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{self._name}-secret-{namespace}-{secret_name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=self.namespaces[namespace].metadata.name),
            type="Opaque",
            string_data=_secret_data(values),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _secrets(self, cfg: StackConfig, secrets: Secrets, infra: Infrastructure) -> dict[str, k8s.core.v1.Secret]:
        made = {
            GRADIENT_SECRET: self._secret(WORKLOAD_NS, GRADIENT_SECRET, {GRADIENT_KEY: secrets.gradient_api_key}),
            "cert-manager": self._secret(CERT_MANAGER_NS, DNS_TOKEN_SECRET, {DNS_TOKEN_KEY: secrets.dns_token}),
            "external-dns": self._secret(EXTERNAL_DNS_NS, DNS_TOKEN_SECRET, {DNS_TOKEN_KEY: secrets.dns_token}),
        }
        # Read-write for the upload Job, read-only for the download Job (with account keys, both the same).
        for secret_name, permission in ((SPACES_SECRET, "readwrite"), (SPACES_READ_SECRET, "read")):
            key = infra.spaces_keys.get(permission)
            if key is not None:
                spaces_id, spaces_key = key.access_key, key.secret_key
            else:
                spaces_id, spaces_key = secrets.spaces_access_key_id, secrets.spaces_secret_access_key
            made[secret_name] = self._secret(WORKLOAD_NS, secret_name, {SPACES_ID_KEY: spaces_id, SPACES_KEY_KEY: spaces_key})
        if secrets.hf_token is not None:
            made[HF_TOKEN_SECRET] = self._secret(WORKLOAD_NS, HF_TOKEN_SECRET, {HF_TOKEN_KEY: secrets.hf_token})
        return made

    def _model_storage(self, cfg: StackConfig, infra: Infrastructure) -> k8s.core.v1.PersistentVolumeClaim:
        """A static PV on the model share (DO NFS, or a host folder on a local stack) and the ReadWriteMany claim."""
        size = f"{cfg.nfs.size_gib}Gi"
        pv = k8s.core.v1.PersistentVolume(
            f"{self._name}-model-nfs-pv",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{cfg.cluster.name}-model-nfs"),
            spec=k8s.core.v1.PersistentVolumeSpecArgs(
                capacity={"storage": size},
                access_modes=["ReadWriteMany"],
                persistent_volume_reclaim_policy="Retain",
                storage_class_name="",
                **infra.model_volume,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return k8s.core.v1.PersistentVolumeClaim(
            f"{self._name}-model-nfs-pvc",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=MODEL_PVC, namespace=self.namespaces[WORKLOAD_NS].metadata.name),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteMany"],
                storage_class_name="",
                volume_name=pv.metadata.name,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size}),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _prometheus_values(self, cfg: StackConfig) -> dict[str, Any]:
        return {
            "prometheus": {"prometheusSpec": {
                # Pick up the PodMonitors/ServiceMonitors of every chart and namespace (Dynamo's included).
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorNamespaceSelector": {},
                "serviceMonitorNamespaceSelector": {},
                "probeNamespaceSelector": {},
            }},
            "grafana": {
                "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
                "grafana.ini": {"server": {
                    "domain": cfg.hostname,
                    "root_url": f"https://{cfg.hostname}/grafana",
                    "serve_from_sub_path": True,
                }},
                **grafana_least_privilege(),
            },
            "kube-state-metrics": {"collectors": KUBE_STATE_METRICS_COLLECTORS},
        }

    def _release(self, release_name: str, cfg: StackConfig, namespace: str, values: dict[str, Any],
                 depends_on: Optional[list[pulumi.Resource]] = None, timeout: int = 600) -> k8s.helm.v3.Release:
        ns = self.namespaces[namespace].metadata.name if namespace in self.namespaces else namespace
        source = release_source(release_name, cfg.charts.source)
        repo = source.pop("repository_opts", None)
        release = k8s.helm.v3.Release(
            f"{self._name}-{release_name}",
            name=release_name,
            **source,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(**repo) if repo else None,
            namespace=ns,
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            timeout=timeout,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self._on_nodes, *(depends_on or [])]),
        )
        self.releases[release_name] = release
        return release

    @property
    def dynamo_platform(self) -> k8s.helm.v3.Release:
        """The operator the DynamoGraphDeployment needs; custom resources depend on it."""
        return self.releases["dynamo-platform"]
