"""`clusterSource.kind: local`: the cluster is a local control plane reached through a kubeconfig.

It plays the part `Infrastructure` plays on DigitalOcean (same attributes, so the rest of the
program does not know the difference) with no DigitalOcean resource at all: no VPC, cluster, pools,
NFS share, Spaces key or look-ups. The local cluster brings what DOKS's Cilium brings (the Gateway API
CRDs, Cilium's CRDs, the `cilium` GatewayClass, Cilium's own operator: localcluster/cilium.py); the
DynamoGraphDeployment CRD, which the Dynamo operator applies itself once its container runs, is added here
from the vendored copy (no container runs on the local cluster).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.config import ConfigError
from components.infra import InfrastructureArgs

VENDOR_CRDS = Path(__file__).resolve().parents[1] / "vendor" / "crds"
# The Gateway API and Cilium CRDs come with the local cluster as they do with DOKS (localcluster/cilium.py:
# Cilium's operator runs there); what the operator the cluster does not run would have applied is added here.
CLUSTER_CRDS = ("nvidia.com_dynamographdeployments.yaml.gz",)


def as_served(node):
    """The document as the API server stores it: an empty `required: []` in a schema is dropped on write,
    so applying it verbatim would show a diff on every `pulumi up` (found by the e2e's second-up check)."""
    if isinstance(node, dict):
        return {k: as_served(v) for k, v in node.items() if not (k == "required" and v == [])}
    if isinstance(node, list):
        return [as_served(v) for v in node]
    return node


class LocalCluster(pulumi.ComponentResource):
    """An existing local cluster (kubeconfig checked at load time) in place of DOKS."""

    def __init__(self, name: str, args: InfrastructureArgs, kubeconfig: pulumi.Output,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:infra:LocalCluster", name, None, opts)
        source = args.config.cluster_source
        child = pulumi.ResourceOptions(parent=self)
        self.kubeconfig = kubeconfig
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=kubeconfig, enable_server_side_apply=True, opts=child)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider)

        documents = []
        for file in CLUSTER_CRDS:
            crds = VENDOR_CRDS / file
            if not crds.exists():
                raise ConfigError(f"the local stack installs CRDs from {crds}, which is missing")
            documents += [as_served(d) for d in yaml.safe_load_all(gzip.decompress(crds.read_bytes())) if d]
        self.cluster_crds = k8s.yaml.v2.ConfigGroup(f"{name}-cluster-crds", objs=documents, opts=on_cluster)

        self.cluster = None
        self.gpu_pool = None
        self.spaces_keys: dict = {}  # no bucket-scoped keys without DigitalOcean
        self.cluster_name = pulumi.Output.from_input("local")
        self.cluster_id = pulumi.Output.from_input("local")
        self.nfs_host = pulumi.Output.from_input("")
        self.nfs_path = pulumi.Output.from_input(source.model_volume_path)
        # A host folder in place of the NFS share (no mount options: hostPath takes none).
        self.model_volume = {
            "host_path": k8s.core.v1.HostPathVolumeSourceArgs(path=source.model_volume_path, type="DirectoryOrCreate"),
        }
        self.register_outputs({"clusterName": "local", "modelVolumePath": source.model_volume_path})

    @property
    def node_pools(self) -> list[pulumi.Resource]:
        """What cluster workloads must wait for: here, the CRDs DOKS and the operator would have brought."""
        return [self.cluster_crds]
