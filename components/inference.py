"""The Dynamo inference graph: one DynamoGraphDeployment with the KV-routed frontend, a round-robin
baseline frontend and the aggregated TensorRT-LLM workers (seed 000 Group 1), plus the engine settings.

Both frontends are services of the same DGD, so they share its Dynamo namespace
(`<k8s namespace>-<DGD name>`) and discover the same workers: the demo compares KV routing with
round-robin over identical replicas, switching by URL, with no redeploy. A separate Deployment
would need the operator's discovery wiring (etcd/NATS endpoints, namespace env) copied by hand.

`workerBackend: mocker` keeps the same graph but runs Dynamo's mocker engine on the management
pool: no GPUs, no NFS, no model download. The mocker and both frontends load a small tokenizer
(the one the local rehearsal uses, rehearsal/tokenizer/) from a ConfigMap mounted where the model
would be, so every argument stays the same as on GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.config import Engine, Router, StackConfig
from components.infra import POOL_LABEL, Infrastructure
from components.model_pipeline import ModelPipeline
from components.platform import GPU_TOLERATION, MODEL_PVC, WORKLOAD_NS, Platform
from components.k8s_common import PART_OF

DGD_NAME = "gtc-demo"
KV_FRONTEND = "Frontend"
BASELINE_FRONTEND = "FrontendRoundRobin"
WORKER = "TrtllmWorker"
FRONTEND_PORT = 8000
MODELS_MOUNT = "/models"
ENGINE_CONFIG_MOUNT = "/engine-config"
ENGINE_CONFIG_FILE = "engine.yaml"
# TRT-LLM images carry CUDA forward-compatibility libraries under this path. The DGD overrides the
# image entrypoint (command: python3 -m dynamo.trtllm), and on DOKS GPU nodes whose driver is newer
# than those libraries they must not shadow the host driver: an empty volume hides them
# (seed 000: "CUDA compat volume mount").
CUDA_COMPAT_PATH = "/usr/local/cuda/compat/lib"
KAI_QUEUE = {"kai.scheduler/queue": "default-queue"}
# Host CPU/memory per TP=4 worker on an 8-GPU node (160+ vCPU, ~1.9 TiB RAM): enough to load a 70B
# checkpoint from NFS and run the engine, while two workers plus the node's daemons still fit.
WORKER_REQUESTS = {"cpu": "16", "memory": "128Gi"}
WORKER_LIMITS = {"cpu": "48", "memory": "512Gi"}
TOKENIZER_DIR = Path(__file__).resolve().parents[1] / "rehearsal" / "tokenizer"


def engine_settings(engine: Engine, tensor_parallel: int) -> dict[str, Any]:
    """TensorRT-LLM `--extra-engine-args` (LLM API arguments) from the typed config.

    `trust_remote_code` lives here because Dynamo 1.6.1's TRT-LLM worker rejects a
    `--trust-remote-code` flag ("Unrecognized argument"); the LLM API takes it as an engine arg.
    """
    return {
        "backend": "pytorch",
        "tensor_parallel_size": tensor_parallel,
        "max_batch_size": engine.max_batch_size,
        "max_num_tokens": engine.max_num_tokens,
        "enable_chunked_prefill": engine.enable_chunked_prefill,
        "trust_remote_code": True,
        "kv_cache_config": {
            "dtype": engine.kv_cache_dtype,
            "free_gpu_memory_fraction": engine.free_gpu_memory_fraction,
            "enable_block_reuse": engine.enable_block_reuse,
        },
        "cuda_graph_config": {"max_batch_size": engine.max_batch_size},
    }


def router_env(router: Router) -> list[dict[str, str]]:
    """The KV frontend's tuning as Dynamo 1.6.1 env vars; unset fields keep Dynamo's defaults."""
    env = []
    if router.prefill_load_scale is not None:
        env.append({"name": "DYN_ROUTER_PREFILL_LOAD_SCALE", "value": str(router.prefill_load_scale)})
    if router.overlap_score_credit is not None:
        env.append({"name": "DYN_ROUTER_KV_OVERLAP_SCORE_CREDIT", "value": str(router.overlap_score_credit)})
    if router.temperature is not None:
        env.append({"name": "DYN_ROUTER_TEMPERATURE", "value": str(router.temperature)})
    return env


def frontend_url(service: str) -> str:
    """In-cluster URL of a DGD frontend: the operator names its Service `<dgd>-<service lowercased>`."""
    return f"http://{DGD_NAME}-{service.lower()}.{WORKLOAD_NS}.svc.cluster.local:{FRONTEND_PORT}"


def trtllm_worker_args(cfg: StackConfig) -> list[str]:
    model, engine = cfg.model, cfg.model.engine
    return [
        "--model-path", f"{MODELS_MOUNT}/{model.name}",
        "--served-model-name", model.name,
        "--tensor-parallel-size", str(model.tensor_parallel),
        "--max-batch-size", str(engine.max_batch_size),
        "--max-num-tokens", str(engine.max_num_tokens),
        "--free-gpu-memory-fraction", str(engine.free_gpu_memory_fraction),
        "--extra-engine-args", f"{ENGINE_CONFIG_MOUNT}/{ENGINE_CONFIG_FILE}",
        "--publish-events-and-metrics",
    ]


def mocker_worker_args(cfg: StackConfig) -> list[str]:
    return [
        "--model-path", f"{MODELS_MOUNT}/{cfg.model.name}",
        "--model-name", cfg.model.name,
        "--engine-type", "trtllm",
    ]


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
                metadata=k8s.meta.v1.ObjectMetaArgs(name="trtllm-engine-config", namespace=namespace,
                                                    labels=dict(PART_OF)),
                data={ENGINE_CONFIG_FILE: yaml.safe_dump(
                    engine_settings(cfg.model.engine, cfg.model.tensor_parallel), sort_keys=True)},
                opts=child,
            )
            needs += [self.engine_config, platform.runtime_class, platform.model_pvc]
            needs += [r for r in (args.infra.gpu_pool,) if r is not None]
            if args.pipeline is not None:
                needs.append(args.pipeline.last_job)
        else:
            self.tokenizer = k8s.core.v1.ConfigMap(
                f"{name}-mocker-tokenizer",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="mocker-tokenizer", namespace=namespace,
                                                    labels=dict(PART_OF)),
                data=_tokenizer_files(),
                opts=child,
            )
            needs.append(self.tokenizer)

        timeout = f"{cfg.model.ready_timeout_minutes}m"
        self.graph = k8s.apiextensions.CustomResource(
            f"{name}-dgd",
            api_version="nvidia.com/v1alpha1",
            kind="DynamoGraphDeployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DGD_NAME,
                namespace=namespace,
                labels=dict(PART_OF),
                annotations={
                    # Operator creates plain Deployments, not Grove PodCliques (seed 000 Group 1).
                    "nvidia.com/enable-grove": "false",
                    # `pulumi up` returns only when the graph is serving (all replicas loaded).
                    "pulumi.com/waitFor": "condition=Ready",
                },
            ),
            spec=self.graph_spec(),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=needs,
                custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
                # backendFramework is immutable (admission webhook): switching backends replaces the graph.
                replace_on_changes=["spec.backendFramework"],
                delete_before_replace=True,
            ),
        )

        self.frontend_url = frontend_url(KV_FRONTEND)
        self.baseline_url = frontend_url(BASELINE_FRONTEND)
        self.model_name = cfg.model.name
        self.register_outputs({
            "graph": DGD_NAME,
            "frontendUrl": self.frontend_url,
            "baselineUrl": self.baseline_url,
            "model": self.model_name,
        })

    # -- spec ----------------------------------------------------------------------------------------

    def graph_spec(self) -> dict[str, Any]:
        cfg = self._cfg
        spec: dict[str, Any] = {
            "services": {
                KV_FRONTEND: self._frontend([{"name": "DYN_ROUTER_MODE", "value": "kv"}, *router_env(cfg.router)],
                                            cfg.router.extra_args),
                BASELINE_FRONTEND: self._frontend([{"name": "DYN_ROUTER_MODE", "value": "round-robin"}], []),
                WORKER: self._trtllm_worker() if cfg.uses_gpus else self._mocker_worker(),
            },
        }
        if cfg.uses_gpus:
            spec = {"backendFramework": "trtllm", "pvcs": [{"name": MODEL_PVC, "create": False}], **spec}
        return spec

    def _model_mounts(self) -> dict[str, Any]:
        """How a service sees `/models/<model>`: the NFS claim on GPUs, the tokenizer ConfigMap on the mocker."""
        cfg = self._cfg
        if cfg.uses_gpus:
            return {"volumeMounts": [{"name": MODEL_PVC, "mountPoint": MODELS_MOUNT}], "volumes": [], "mounts": []}
        return {
            "volumeMounts": [],
            "volumes": [{"name": "tokenizer", "configMap": {"name": "mocker-tokenizer"}}],
            "mounts": [{"name": "tokenizer", "mountPath": f"{MODELS_MOUNT}/{cfg.model.name}", "readOnly": True}],
        }

    def _frontend(self, env: list[dict[str, Any]], extra_args: list[str]) -> dict[str, Any]:
        cfg = self._cfg
        models = self._model_mounts()
        container: dict[str, Any] = {"image": cfg.images.dynamo_frontend}
        if extra_args:
            container.update(command=["python3", "-m", "dynamo.frontend"], args=list(extra_args))
        if models["mounts"]:
            container["volumeMounts"] = models["mounts"]
        pod: dict[str, Any] = {"nodeSelector": {POOL_LABEL: "management"}, "mainContainer": container}
        if models["volumes"]:
            pod["volumes"] = models["volumes"]
        service: dict[str, Any] = {
            "componentType": "frontend",
            "replicas": 1,
            "envs": [*env, {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
            "extraPodSpec": pod,
        }
        if models["volumeMounts"]:
            service["volumeMounts"] = models["volumeMounts"]
        return service

    def _trtllm_worker(self) -> dict[str, Any]:
        cfg = self._cfg
        return {
            "componentType": "worker",
            "replicas": cfg.model.replicas,
            "resources": {"requests": dict(WORKER_REQUESTS),
                          "limits": {"gpu": str(cfg.model.tensor_parallel), **WORKER_LIMITS}},
            "labels": dict(KAI_QUEUE),
            "volumeMounts": [{"name": MODEL_PVC, "mountPoint": MODELS_MOUNT}],
            "extraPodSpec": {
                "hostIPC": True,  # NVLink/NCCL shared memory between the TP=4 ranks of one replica
                "runtimeClassName": "nvidia",
                "tolerations": [dict(GPU_TOLERATION)],
                "nodeSelector": {POOL_LABEL: "gpu"},
                "volumes": [
                    {"name": "engine-config", "configMap": {"name": "trtllm-engine-config"}},
                    {"name": "cuda-compat", "emptyDir": {}},
                ],
                "mainContainer": {
                    "image": cfg.images.trtllm_runtime,
                    "command": ["python3", "-m", "dynamo.trtllm"],
                    "args": trtllm_worker_args(cfg),
                    "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
                    "volumeMounts": [
                        {"name": "engine-config", "mountPath": ENGINE_CONFIG_MOUNT, "readOnly": True},
                        {"name": "cuda-compat", "mountPath": CUDA_COMPAT_PATH},
                    ],
                },
            },
        }

    def _mocker_worker(self) -> dict[str, Any]:
        cfg = self._cfg
        models = self._model_mounts()
        return {
            "componentType": "worker",
            "replicas": cfg.model.replicas,
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "extraPodSpec": {
                "nodeSelector": {POOL_LABEL: "management"},
                "volumes": models["volumes"],
                "mainContainer": {
                    "image": cfg.images.mocker or cfg.images.dynamo_frontend,
                    "command": ["python3", "-m", "dynamo.mocker"],
                    "args": mocker_worker_args(cfg),
                    "volumeMounts": models["mounts"],
                },
            },
        }


def _tokenizer_files() -> dict[str, str]:
    """The rehearsal's small tokenizer (ConfigMap-sized, no hub access needed) as ConfigMap data."""
    files = {p.name: p.read_text() for p in sorted(TOKENIZER_DIR.glob("*.json"))}
    if "tokenizer.json" not in files:
        raise pulumi.RunError(f"workerBackend=mocker needs a tokenizer in {TOKENIZER_DIR} (tokenizer.json missing); "
                              "build it with `python -m rehearsal.build_tokenizer`")
    return files
