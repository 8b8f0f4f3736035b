"""The load generator service (loadgen/): Deployment, Service, config, control token and scrape config.

It talks only to the two in-cluster frontends and DO Serverless Inference, so it gets no Kubernetes
API access at all (no RBAC, no service-account token): Phase 1 scales nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import StackConfig
from components.infra import POOL_LABEL
from components.k8s_common import (
    FRONTEND_CLIENT,
    LOADGEN_INTERNAL_PORT,
    LOADGEN_PUBLIC_PORT,
    LOADGEN_SELECTOR,
    PART_OF,
    restricted_security_context,
    secret_env,
)
from components.platform import GRADIENT_KEY, GRADIENT_SECRET, WORKLOAD_NS, Platform

APP = LOADGEN_SELECTOR["app.kubernetes.io/name"]
CONTAINER_PORT = LOADGEN_PUBLIC_PORT
# /metrics (and the OpenAPI document, full conversation texts): scraped by Prometheus from the pod IP, not in
# the Service, so the Gateway route can never reach it.
METRICS_PORT = LOADGEN_INTERNAL_PORT
SERVICE_PORT = 80
CONTROL_TOKEN_SECRET, CONTROL_TOKEN_KEY = "loadgen-control-token", "LOADGEN_CONTROL_TOKEN"
RUN_AS_USER = 10001


def allowed_hosts(hostname: str) -> list[str]:
    """The public hostname plus every name the Service answers to inside the cluster."""
    return [hostname.lower(), APP, f"{APP}.{WORKLOAD_NS}", f"{APP}.{WORKLOAD_NS}.svc", f"{APP}.{WORKLOAD_NS}.svc.cluster.local"]


@dataclass
class LoadGeneratorArgs:
    config: StackConfig
    platform: Platform
    frontend_url: pulumi.Input[str]
    baseline_url: pulumi.Input[str]
    model: str
    # The image reference (components.loadgen_image: built from loadgen/, or prebuilt).
    image: pulumi.Input[str]


class LoadGenerator(pulumi.ComponentResource):
    """The demo's web UI and traffic source, reachable in-cluster at `http://loadgen.<ns>` (port 80)."""

    def __init__(self, name: str, args: LoadGeneratorArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:loadgen:LoadGenerator", name, None, opts)
        cfg, platform = args.config, args.platform
        namespace = platform.namespaces[WORKLOAD_NS].metadata.name
        child = pulumi.ResourceOptions(parent=self)
        labels = {**LOADGEN_SELECTOR, **PART_OF}

        self.control_token = random.RandomPassword(f"{name}-control-token", length=40, special=False, opts=child)
        self.token_secret = k8s.core.v1.Secret(
            f"{name}-control-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=CONTROL_TOKEN_SECRET, namespace=namespace, labels=labels),
            type="Opaque",
            string_data=pulumi.Output.secret(self.control_token.result.apply(lambda t: {CONTROL_TOKEN_KEY: t})),
            opts=child,
        )
        # Auto-named: changed settings make a new ConfigMap, so the Deployment rolls its pods.
        self.settings = k8s.core.v1.ConfigMap(
            f"{name}-settings",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, labels=labels),
            data={
                "LOADGEN_FRONTEND_URL": args.frontend_url,
                "LOADGEN_BASELINE_URL": args.baseline_url,
                "LOADGEN_MODEL": args.model,
                "LOADGEN_PORT": str(CONTAINER_PORT),
                "LOADGEN_INTERNAL_PORT": str(METRICS_PORT),
                # Listening beyond loopback is allowed only with the control token (set below from its Secret).
                "LOADGEN_HOST": "0.0.0.0",
                # Host headers the public port answers: the Gateway's hostname and the in-cluster Service names.
                "LOADGEN_ALLOWED_HOSTS": ",".join(allowed_hosts(cfg.hostname)),
                # The Gateway's Envoy connects from the pod network and appends the visitor's address to
                # X-Forwarded-For: the per-address caps use that address (loadgen.edge.admission).
                "LOADGEN_TRUSTED_PROXIES": cfg.network.cluster_subnet,
                # The DO load balancer reaches Envoy from the VPC and hides every visitor behind that address
                # (PROXY protocol is a cluster-wide Cilium setting DOKS manages): one VPC address is the whole
                # booth, so it shares only the anonymous pool (docs/security.md, "Which limit holds where").
                "LOADGEN_SHARED_NETWORKS": cfg.network.vpc_cidr,
                "LOADGEN_FOLLOWUP_MODEL": cfg.loadgen.followup_model,
                "LOADGEN_FOLLOWUP_URL": cfg.loadgen.followup_url,
                # Booth openings are bounded so a conversation's longest prompt fits one engine prefill.
                "LOADGEN_MAX_PROMPT_LENGTH": str(cfg.model.engine.max_num_tokens),
            },
            opts=child,
        )

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=cfg.loadgen.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                # One replica (config enforces it): Stop, auto mode and the conversations live in the process.
                # Recreate, not a rolling surge: two pods would both drive load during a rollout.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    # FRONTEND_CLIENT: the NetworkPolicies let only labelled pods reach the frontends.
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={**labels, **FRONTEND_CLIENT},
                        # The management pool autoscales: do not move the booth's only pod to shrink it.
                        annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}),
                    spec=self._pod(cfg, args.image),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.token_secret, platform.secrets[GRADIENT_SECRET]]),
        )
        # Voluntary evictions (node drains, autoscaler) must not take the booth down mid-demo; a drain waits
        # until someone deletes the pod on purpose (docs/security.md, "Load generator availability").
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace, labels=labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(min_available=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels)),
            opts=child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=labels,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=SERVICE_PORT, target_port="http")],
            ),
            opts=child,
        )
        # kube-prometheus-stack selects PodMonitors in every namespace (platform values).
        self.pod_monitor = k8s.apiextensions.CustomResource(
            f"{name}-podmonitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=namespace, labels=labels),
            spec={
                "selector": {"matchLabels": labels},
                "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[platform.releases["kube-prometheus-stack"]]),
        )

        # The name the program set, known at preview (routes and their policy checks show it); the route that
        # uses it depends on the Service itself through the Gateway's `backends`.
        self.service_name = APP
        self.url = f"http://{APP}.{WORKLOAD_NS}.svc.cluster.local"
        self.register_outputs({"service": self.service.metadata.name, "url": self.url,
                               "controlToken": pulumi.Output.secret(self.control_token.result)})

    def _pod(self, cfg: StackConfig, image: pulumi.Input[str]) -> k8s.core.v1.PodSpecArgs:
        # The internal port: no visitor can fill its connections or slots, so a flood never gets the pod restarted.
        probe = dict(http_get=k8s.core.v1.HTTPGetActionArgs(path="/healthz", port="metrics"), period_seconds=10)
        return k8s.core.v1.PodSpecArgs(
            automount_service_account_token=False,
            node_selector={POOL_LABEL: "management"},
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True, run_as_user=RUN_AS_USER, run_as_group=RUN_AS_USER,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[k8s.core.v1.ContainerArgs(
                name=APP,
                image=image,
                command=["python", "-m", "loadgen", "serve"],
                ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=CONTAINER_PORT),
                       k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)],
                env_from=[k8s.core.v1.EnvFromSourceArgs(
                    config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(name=self.settings.metadata.name))],
                env=[
                    secret_env(CONTROL_TOKEN_KEY, CONTROL_TOKEN_SECRET, CONTROL_TOKEN_KEY),
                    secret_env("GRADIENT_API_KEY", GRADIENT_SECRET, GRADIENT_KEY),
                ],
                readiness_probe=k8s.core.v1.ProbeArgs(**probe, initial_delay_seconds=3, failure_threshold=3),
                liveness_probe=k8s.core.v1.ProbeArgs(**probe, initial_delay_seconds=15, failure_threshold=6),
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "100m", "memory": "256Mi"},
                    limits={"cpu": "1", "memory": "1Gi"},
                ),
                security_context=restricted_security_context(),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
            )],
            volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi"))],
        )
