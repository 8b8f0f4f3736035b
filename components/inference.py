"""The Dynamo inference graph: one DynamoGraphDeployment with the KV-routed frontend, a round-robin
baseline frontend and the aggregated TensorRT-LLM workers (seed 000 Group 1), plus what its pods mount.

The graph's shape lives in `components/dgd.py`; this component creates it and its ConfigMaps, and
waits for the operator (the `dynamo-platform` release, which also applies the DGD CRD).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components import dgd
from components.config import StackConfig
from components.infra import Infrastructure
from components.model_pipeline import ModelPipeline
from components.platform import WORKLOAD_NS, Platform
from components.k8s_common import PART_OF

TOKENIZER_DIR = Path(__file__).resolve().parents[1] / "rehearsal" / "tokenizer"


@dataclass
class InferenceArgs:
    config: StackConfig
    infra: Infrastructure
    platform: Platform
    pipeline: Optional[ModelPipeline]


class Inference(pulumi.ComponentResource):
    """The DynamoGraphDeployment `gtc-demo` and what its pods mount."""

    def __init__(self, name: str, args: InferenceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:inference:Inference", name, None, opts)
        cfg, platform = args.config, args.platform
        self._cfg = cfg
        namespace = platform.namespaces[WORKLOAD_NS].metadata.name
        child = pulumi.ResourceOptions(parent=self)

        needs: list[pulumi.Resource] = [platform.dynamo_platform]
        self.engine_config: Optional[k8s.core.v1.ConfigMap] = None
        self.tokenizer: Optional[k8s.core.v1.ConfigMap] = None
        if cfg.uses_gpus:
            self.engine_config = k8s.core.v1.ConfigMap(
                f"{name}-engine-config",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=dgd.engine_config_name(cfg), namespace=namespace,
                                                    labels=dict(PART_OF)),
                data={dgd.ENGINE_CONFIG_FILE: dgd.engine_config_yaml(cfg)},
                opts=child,
            )
            needs += [self.engine_config, platform.runtime_class, platform.model_pvc]
            needs += [r for r in (args.infra.gpu_pool,) if r is not None]
            if args.pipeline is not None:
                needs.extend(args.pipeline.weights_ready)
        else:
            self.tokenizer = k8s.core.v1.ConfigMap(
                f"{name}-mocker-tokenizer",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=dgd.TOKENIZER_CONFIG_MAP, namespace=namespace,
                                                    labels=dict(PART_OF)),
                data=_tokenizer_files(),
                opts=child,
            )
            needs.append(self.tokenizer)

        self.router_policy: Optional[k8s.core.v1.ConfigMap] = None
        policy = dgd.router_policy_yaml(cfg)
        if policy is not None:
            self.router_policy = k8s.core.v1.ConfigMap(
                f"{name}-router-policy",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=dgd.router_policy_name(cfg), namespace=namespace,
                                                    labels=dict(PART_OF)),
                data={dgd.ROUTER_POLICY_FILE: policy},
                opts=child,
            )
            needs.append(self.router_policy)

        timeout = f"{cfg.model.ready_timeout_minutes}m"
        manifest = dgd.graph_manifest(cfg)
        self.graph = k8s.apiextensions.CustomResource(
            f"{name}-dgd",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=dgd.DGD_NAME,
                namespace=namespace,
                labels=dict(PART_OF),
                annotations={
                    # Plain Deployments, never Grove PodCliques, even if Grove is installed later (seed 000 Group 1).
                    "nvidia.com/enable-grove": "false",
                    # `pulumi up` returns only when the graph is serving (all replicas loaded).
                    "pulumi.com/waitFor": "condition=Ready",
                },
            ),
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=needs,
                custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
                # backendFramework is immutable (admission webhook): switching backends replaces the graph.
                replace_on_changes=["spec.backendFramework"],
                delete_before_replace=True,
            ),
        )

        self.frontend_url = dgd.frontend_url(dgd.KV_FRONTEND)
        self.baseline_url = dgd.frontend_url(dgd.BASELINE_FRONTEND)
        self.model_name = cfg.model.name
        self.register_outputs({
            "graph": dgd.DGD_NAME,
            "frontendUrl": self.frontend_url,
            "baselineUrl": self.baseline_url,
            "model": self.model_name,
        })


def _tokenizer_files() -> dict[str, str]:
    """The rehearsal's small tokenizer (ConfigMap-sized, no hub access needed) as ConfigMap data."""
    files = {p.name: p.read_text() for p in sorted(TOKENIZER_DIR.glob("*.json"))}
    if "tokenizer.json" not in files:
        raise pulumi.RunError(f"workerBackend=mocker needs a tokenizer in {TOKENIZER_DIR} (tokenizer.json missing); "
                              "build it with `python -m rehearsal.build_tokenizer`")
    return files
