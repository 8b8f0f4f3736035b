"""DigitalOcean infrastructure: VPC, DOKS cluster with its pools, the NFS share, scoped Spaces key.

Pre-existing account resources are never created or deleted by this stack. The model-cache bucket and
the DNS domain are looked up by name, so a wrong name fails the preview. The container registry is not:
the provider's registry look-ups ask `GET /v2/registries/<id>` with an empty id and report a 404 as
success with no result (pulumi-digitalocean issue 1535; unchanged up to the built 4.76.0), so they can
check nothing. The registry is checked at `up`, where the push credentials are requested for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_digitalocean as do
import pulumi_kubernetes as k8s

from components.config import ConfigError, Secrets, StackConfig

POOL_LABEL = "gtc-demo/pool"
GPU_NODE_LABEL = "doks.digitalocean.com/gpu-brand"


@dataclass
class InfrastructureArgs:
    config: StackConfig
    secrets: Secrets


def kubeconfig_document(cluster_name: str, endpoint: str, ca_data: str, cluster_id: str) -> str:
    """A kubeconfig that holds no credential and outlives DOKS's 7-day kubeconfig tokens.

    Its user is an `exec` entry: `doctl` asks the DigitalOcean API for a fresh, short-lived cluster
    credential on every call, with whatever token the caller's environment holds (DIGITALOCEAN_ACCESS_TOKEN,
    or `doctl auth`). So neither the state nor the `kubeconfig` output carries a credential, and the
    document never changes when a token expires (the provider is never replaced). The account token the
    older `api-token` mode wrote here is refused (components/config.py).
    """
    user = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "doctl",
        "args": ["kubernetes", "cluster", "kubeconfig", "exec-credential", "--version=v1beta1", cluster_id],
        "interactiveMode": "Never",
    }}
    context = f"do-{cluster_name}"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "users": [{"name": f"{context}-admin", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}],
        "current-context": context,
    }
    return json.dumps(document, indent=2, sort_keys=True)


def _offered_version(latest: Optional[str], prefix: str) -> str:
    """The look-up returns no version when DOKS offers none with the prefix; say so at preview."""
    if not latest:
        raise ConfigError(f"gtc-demo:cluster.kubernetesVersionPrefix={prefix!r}: DOKS offers no Kubernetes "
                          "version with this prefix (`doctl kubernetes options versions` lists them)")
    return latest


class Infrastructure(pulumi.ComponentResource):
    """The cloud foundation every Kubernetes resource of the demo runs on."""

    def __init__(self, name: str, args: InfrastructureArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:infra:Infrastructure", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)

        # Look-ups of what the account already has: checked at preview, untouched by destroy.
        self.bucket = do.get_spaces_bucket_output(name=cfg.spaces.bucket, region=cfg.spaces.region, opts=pulumi.InvokeOptions(parent=self))
        self.domain = do.get_domain_output(name=cfg.domain, opts=pulumi.InvokeOptions(parent=self))

        self.vpc = do.Vpc(
            f"{name}-vpc",
            name=f"{cfg.cluster.name}-vpc",
            region=cfg.region,
            ip_range=cfg.network.vpc_cidr,
            description=f"gtc-demo {pulumi.get_stack()}: DOKS nodes and the model NFS share",
            opts=child,
        )

        versions = do.get_kubernetes_versions_output(
            version_prefix=cfg.cluster.kubernetes_version_prefix, opts=pulumi.InvokeOptions(parent=self))
        mgmt = cfg.cluster.management_pool
        firewall = None
        if cfg.cluster.control_plane_allowlist:
            firewall = do.KubernetesClusterControlPlaneFirewallArgs(
                enabled=True, allowed_addresses=cfg.cluster.control_plane_allowlist)

        self.cluster = do.KubernetesCluster(
            f"{name}-cluster",
            name=cfg.cluster.name,
            region=cfg.region,
            # Exact version resolved once from the prefix; ignore_changes keeps it pinned when DO
            # publishes a newer patch, so a later `pulumi up` never upgrades the cluster by surprise.
            version=versions.latest_version.apply(
                lambda latest: _offered_version(latest, cfg.cluster.kubernetes_version_prefix)),
            vpc_uuid=self.vpc.id,
            cluster_subnet=cfg.network.cluster_subnet,
            service_subnet=cfg.network.service_subnet,
            registry_integration=True,
            ha=cfg.cluster.ha,
            auto_upgrade=False,
            surge_upgrade=True,
            maintenance_policy=do.KubernetesClusterMaintenancePolicyArgs(
                day=cfg.cluster.maintenance.day, start_time=cfg.cluster.maintenance.start_time),
            control_plane_firewall=firewall,
            # Deleting the cluster also deletes the load balancer Cilium made for the Gateway, which
            # would otherwise keep the VPC from being deleted.
            destroy_all_associated_resources=True,
            node_pool=do.KubernetesClusterNodePoolArgs(
                name="management",
                size=mgmt.size,
                auto_scale=True,
                min_nodes=mgmt.min_nodes,
                max_nodes=mgmt.max_nodes,
                labels={POOL_LABEL: "management"},
            ),
            tags=["gtc-demo", pulumi.get_stack()],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["version"]),
        )

        self.gpu_pool: Optional[do.KubernetesNodePool] = None
        if cfg.uses_gpus:
            # DOKS labels GPU nodes doks.digitalocean.com/gpu-brand=nvidia and taints them
            # nvidia.com/gpu:NoSchedule itself; only our own pool label is added here.
            self.gpu_pool = do.KubernetesNodePool(
                f"{name}-gpu-pool",
                cluster_id=self.cluster.id,
                name="gpu",
                size=cfg.gpu_pool.slug,
                node_count=cfg.gpu_pool.count,
                labels={POOL_LABEL: "gpu"},
                tags=["gtc-demo", "gpu"],
                opts=pulumi.ResourceOptions(parent=self, custom_timeouts=pulumi.CustomTimeouts(create="60m")),
            )

        self.nfs = do.Nfs(
            f"{name}-nfs",
            name=f"{cfg.cluster.name}-models",
            region=cfg.region,
            size=cfg.nfs.size_gib,
            performance_tier=cfg.nfs.performance_tier,
            vpc_id=self.vpc.id,
            tags=["gtc-demo"],
            opts=child,
        )

        # Keys scoped to the one model-cache bucket: read-write for the upload Job, read-only for the
        # download Job (Spaces key grants: read | readwrite | fullaccess).
        self.spaces_keys: dict[str, do.SpacesKey] = {}
        if cfg.spaces.scoped_key:
            for permission, suffix in (("readwrite", "model-cache"), ("read", "model-cache-read")):
                self.spaces_keys[permission] = do.SpacesKey(
                    f"{name}-spaces-key" + ("" if permission == "readwrite" else "-read"),
                    name=f"{cfg.cluster.name}-{suffix}",
                    grants=[do.SpacesKeyGrantArgs(bucket=cfg.spaces.bucket, permission=permission)],
                    opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secret_key", "access_key"]),
                )

        ca_data = self.cluster.kube_configs.apply(lambda cfgs: cfgs[0].cluster_ca_certificate)
        # No credential inside, but kept a secret: the endpoint and CA of a cluster are nobody's business.
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, ca_data, self.cluster.id,
        ).apply(lambda v: kubeconfig_document(v[0], v[1], v[2], v[3])))

        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            # After the cluster is gone, let `pulumi destroy` drop its objects from the state.
            delete_unreachable=True,
            opts=child,
        )

        self.nfs_host = self.nfs.host
        self.nfs_path = self.nfs.mount_path
        self.cluster_name = self.cluster.name
        self.cluster_id = self.cluster.id
        # What the model PersistentVolume mounts: the DO NFS share.
        self.model_volume = {
            "mount_options": ["nfsvers=4.1"],
            "nfs": k8s.core.v1.NFSVolumeSourceArgs(server=self.nfs.host, path=self.nfs.mount_path),
        }
        self.register_outputs({
            "clusterName": self.cluster.name,
            "clusterId": self.cluster.id,
            "vpcId": self.vpc.id,
            "nfsHost": self.nfs.host,
            "nfsPath": self.nfs.mount_path,
        })

    @property
    def node_pools(self) -> list[pulumi.Resource]:
        """What cluster workloads must wait for: the cluster (with its management pool) and the GPU pool."""
        return [r for r in (self.cluster, self.gpu_pool) if r is not None]
