"""The one place that knows the DynamoGraphDeployment's shape (`nvidia.com/v1beta1`).

Both frontends are components of the same DGD, so they share its Dynamo namespace and discover the
same workers: the demo compares KV routing with round-robin over identical replicas, switching by
URL, with no redeploy.

v1beta1 (the operator's storage version; v1alpha1 is deprecated): `spec.components` is a list of
`{name, type, replicas, podTemplate}`; each podTemplate is a plain PodSpec whose container `main`
the operator completes (ports, probes, discovery env). GPUs, volumes and env are ordinary PodSpec
fields. Grove and KAI are not used (docs/architecture.md, "Grove and KAI"), so no scheduler queue label.

`workerBackend: mocker` keeps the same graph but runs Dynamo's mocker engine on the management pool:
no GPUs, no NFS; the mocker and both frontends load the rehearsal's small tokenizer from a ConfigMap
mounted where the model would be, so every argument stays the same as on GPUs.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional

import yaml

from components.config import Engine, Speculative, StackConfig
from components.infra import POOL_LABEL
from components.k8s_common import (
    FRONTEND_PORT,
    GRAPH_COMPONENT,
    GRAPH_ROLE,
    PART_OF,
    SYSTEM_PORT,
    restricted_container_security,
    restricted_pod_security,
)
from components.platform import GPU_TOLERATION, MODEL_PVC, WORKLOAD_NS
from components.speculative import speculative_config
from rehearsal.speculative import SpecDecoding
from serving.engine import MIGRATION_LIMIT, engine_limit_args
from serving.router import ROUTER_POLICY_INSTANCE, ROUTER_POLICY_TYPE, router_policy  # noqa: F401 (re-exported)

API_VERSION = "nvidia.com/v1beta1"
KIND = "DynamoGraphDeployment"
DGD_NAME = "gtc-demo"
KV_FRONTEND = "Frontend"
BASELINE_FRONTEND = "FrontendRoundRobin"
WORKER = "TrtllmWorker"
MAIN_CONTAINER = "main"  # the container the operator completes; v1beta1 requires it by this name
MODELS_MOUNT = "/models"
ENGINE_CONFIG_MAP = "trtllm-engine-config"  # + "-<hash of the content>", see engine_config_name
ENGINE_CONFIG_MOUNT = "/engine-config"
ENGINE_CONFIG_FILE = "engine.yaml"
TOKENIZER_CONFIG_MAP = "mocker-tokenizer"
ROUTER_POLICY_CONFIG_MAP = "router-policy"  # + "-<hash of the content>", see router_policy_name
ROUTER_POLICY_MOUNT = "/router-policy"
ROUTER_POLICY_FILE = "policy.yaml"
# TRT-LLM images carry CUDA forward-compatibility libraries under this path. On DOKS GPU nodes whose
# driver is newer than those libraries they must not shadow the host driver: an empty volume hides
# them (seed 000: "CUDA compat volume mount").
CUDA_COMPAT_PATH = "/usr/local/cuda/compat/lib"
GPU_RESOURCE = "nvidia.com/gpu"
# Host CPU/memory per TP=4 worker on an 8-GPU node (160+ vCPU, ~1.9 TiB RAM): enough to load a 70B
# checkpoint from NFS and run the engine, while two workers plus the node's daemons still fit.
WORKER_REQUESTS = {"cpu": "16", "memory": "128Gi"}
WORKER_LIMITS = {"cpu": "48", "memory": "512Gi"}
FRONTEND_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
MOCKER_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
# The Dynamo images run as user `dynamo` (uid 1000, group 0; ai-dynamo container/templates/
# dynamo_runtime.Dockerfile). Pinned here so runAsNonRoot holds even if an image's USER changes.
DYNAMO_USER = 1000
# /dev/shm of a worker pod: the TP=4 ranks of one replica are processes in one container, so they already
# share an IPC namespace; what NCCL/PyTorch need is a large shared-memory tmpfs, which the operator mounts
# (v1beta1 `sharedMemorySize`, default 8Gi). No hostIPC, no IPC_LOCK (docs/security.md, "GPU workers").
WORKER_SHARED_MEMORY = "16Gi"


# Worker health (ai-dynamo 1.6.1 runtime, checked against the installed package): the system server
# listens on DYN_SYSTEM_PORT (the operator's default 9090, container port `system`) and serves /health
# and /live (DYN_SYSTEM_HEALTH_PATH / DYN_SYSTEM_LIVE_PATH defaults), both 503 "notready" until the
# `generate` endpoint serves. DYN_HEALTH_CHECK_ENABLED turns on the runtime's canary: an endpoint idle
# for 10 s gets the worker's own health-check request (the TRT-LLM worker registers one), and one that
# fails it turns the status notready; that is what catches an engine that died but whose process lives
# on (Dynamo's TRT-LLM known issue). The probes below restart such a worker. SYSTEM_PORT: k8s_common.
WORKER_HEALTH_ENV = [
    {"name": "DYN_SYSTEM_ENABLED", "value": "true"},
    {"name": "DYN_SYSTEM_PORT", "value": str(SYSTEM_PORT)},
    # 1.6.1 logs it as deprecated, yet without it the status never leaves notready (measured with the mocker).
    {"name": "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "value": '["generate"]'},
    {"name": "DYN_HEALTH_CHECK_ENABLED", "value": "true"},
]
# Frontends move a request to another worker when its worker disconnects (1.6.1 default 0: fail it).
FRONTEND_MIGRATION_LIMIT = MIGRATION_LIMIT  # serving.engine: the rehearsal's frontends use the same value
PROBE_PERIOD_SECONDS = 10
LIVENESS_FAILURES = 3  # ~30 s after the engine died, the kubelet restarts the container


def worker_probes(ready_timeout_minutes: int) -> dict[str, Any]:
    """startup (the whole model-load budget), liveness and readiness on the worker's system port."""
    def probe(path: str, failures: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": SYSTEM_PORT}, "periodSeconds": PROBE_PERIOD_SECONDS,
                "timeoutSeconds": 5, "failureThreshold": failures}
    return {
        "startupProbe": probe("/live", ready_timeout_minutes * 60 // PROBE_PERIOD_SECONDS),
        "livenessProbe": probe("/live", LIVENESS_FAILURES),
        "readinessProbe": probe("/health", 3),
    }


def component_resource_name(component: str) -> str:
    """The operator's name for a component's Service/Deployment: `<dgd>-<component lower-cased>`."""
    return f"{DGD_NAME}-{component.lower()}"


def worker_pod_regex() -> str:
    """PromQL regex of the worker pods the operator creates for this DGD.

    Worker DynamoComponentDeployments carry an 8-hex hash of the worker specs
    (`<dgd>-<component>-<hash>`, operator `GetDCDResourceName`), their Deployment has the same name,
    and its pods add the ReplicaSet hash and a 5-character suffix.
    """
    return f"{component_resource_name(WORKER)}-[0-9a-f]{{8}}-[a-z0-9]+-[a-z0-9]{{5}}"


def frontend_url(component: str) -> str:
    """In-cluster URL of a frontend component (its Service is `<dgd>-<component lower-cased>`)."""
    return f"http://{component_resource_name(component)}.{WORKLOAD_NS}.svc.cluster.local:{FRONTEND_PORT}"


def engine_settings(engine: Engine, tensor_parallel: int, speculative: Optional[Speculative] = None) -> dict[str, Any]:
    """TensorRT-LLM `--extra-engine-args` (LLM API arguments) from the typed config.

    `trust_remote_code` lives here because Dynamo 1.6.1's TRT-LLM worker rejects a
    `--trust-remote-code` flag ("Unrecognized argument"); the LLM API takes it as an engine arg.
    Speculative decoding adds `speculative_config` and leaves the KV cache settings alone: block
    reuse stays on, so the worker keeps publishing KV events and KV routing keeps working.
    """
    spec = speculative_config(speculative, MODELS_MOUNT) if speculative is not None else None
    return ({"speculative_config": spec} if spec else {}) | {
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


def engine_config_yaml(cfg: StackConfig) -> str:
    return yaml.safe_dump(engine_settings(cfg.model.engine, cfg.model.tensor_parallel, cfg.model.speculative),
                          sort_keys=True)


def engine_config_name(cfg: StackConfig) -> str:
    """The engine ConfigMap's name carries a hash of its content: the worker reads the file only at start,
    so a changed engine config (a speculative decoding phase) must change the DGD, which rolls the workers."""
    return f"{ENGINE_CONFIG_MAP}-{hashlib.sha256(engine_config_yaml(cfg).encode()).hexdigest()[:8]}"


def router_policy_yaml(cfg: StackConfig) -> Optional[str]:
    policy = router_policy(cfg.router)
    return None if policy is None else yaml.safe_dump(policy, sort_keys=True)


def router_policy_name(cfg: StackConfig) -> str:
    """Named by content: the frontend reads the file only at start, so a change must roll it."""
    text = router_policy_yaml(cfg) or ""
    return f"{ROUTER_POLICY_CONFIG_MAP}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def trtllm_worker_args(cfg: StackConfig) -> list[str]:
    """`python -m dynamo.trtllm` arguments, in Dynamo 1.6.1's current spelling (checked by its parser)."""
    model, engine = cfg.model, cfg.model.engine
    return [
        "--model", f"{MODELS_MOUNT}/{model.name}",
        "--served-model-name", model.name,
        "--tensor-parallel-size", str(model.tensor_parallel),
        "--max-batch-size", str(engine.max_batch_size),
        "--max-num-tokens", str(engine.max_num_tokens),
        "--free-gpu-memory-fraction", str(engine.free_gpu_memory_fraction),
        "--extra-engine-args", f"{ENGINE_CONFIG_MOUNT}/{ENGINE_CONFIG_FILE}",
        # KV events feed the KV-aware router; metrics feed the dashboards.
        "--publish-kv-events",
        "--publish-metrics",
    ]


def mocker_worker_args(cfg: StackConfig) -> list[str]:
    """The mocker models the stack's engine limits and speculative decoding as the rehearsal does (its default clock: ratio 1.0)."""
    spec = SpecDecoding(cfg.model.speculative.method, cfg.model.speculative.max_draft_len)
    engine = cfg.model.engine
    return [
        "--model-path", f"{MODELS_MOUNT}/{cfg.model.name}",
        "--model-name", cfg.model.name,
        "--engine-type", "trtllm",
        *engine_limit_args(engine.max_batch_size, engine.max_num_tokens, engine.enable_chunked_prefill),
        *spec.mocker_args(decode_speedup_ratio=1.0),
    ]


def graph_manifest(cfg: StackConfig) -> dict[str, Any]:
    """apiVersion, kind and spec of the DGD (metadata is the component's)."""
    return {"apiVersion": API_VERSION, "kind": KIND, "spec": graph_spec(cfg)}


def graph_spec(cfg: StackConfig) -> dict[str, Any]:
    kv_env = [{"name": "DYN_ROUTER_MODE", "value": "kv"}]
    kv_pod = _frontend_pod(cfg, kv_env, cfg.router.extra_args)
    if router_policy(cfg.router) is not None:
        kv_pod["volumes"].append({"name": "router-policy", "configMap": {"name": router_policy_name(cfg)}})
        main = kv_pod["containers"][0]
        main["env"].insert(1, {"name": "DYN_ROUTER_POLICY_CONFIG", "value": f"{ROUTER_POLICY_MOUNT}/{ROUTER_POLICY_FILE}"})
        main["volumeMounts"].append({"name": "router-policy", "mountPath": ROUTER_POLICY_MOUNT, "readOnly": True})
    components = [
        _component(KV_FRONTEND, "frontend", 1, kv_pod),
        _component(BASELINE_FRONTEND, "frontend", 1,
                   _frontend_pod(cfg, [{"name": "DYN_ROUTER_MODE", "value": "round-robin"}], [])),
        _component(WORKER, "worker", cfg.model.replicas,
                   _trtllm_worker_pod(cfg) if cfg.uses_gpus else _mocker_worker_pod(cfg)),
    ]
    spec: dict[str, Any] = {"components": components}
    if cfg.uses_gpus:
        spec = {"backendFramework": "trtllm", **spec}
    return spec


def _component(name: str, type_: str, replicas: int, pod_spec: dict[str, Any]) -> dict[str, Any]:
    """One component; every pod runs as the restricted Pod Security Standard asks (non-root, seccomp,
    no privilege escalation, no capabilities) and carries the role NetworkPolicies select on."""
    pod_spec = {**pod_spec, "securityContext": restricted_pod_security(DYNAMO_USER)}
    for container in pod_spec["containers"]:
        # Writable root: the images keep caches under /home/dynamo/.cache (tokenizers, TRT-LLM JIT kernels).
        container["securityContext"] = restricted_container_security(read_only_root=False)
    labels = {**PART_OF, GRAPH_ROLE: type_, GRAPH_COMPONENT: name.lower()}
    component: dict[str, Any] = {"name": name, "type": type_, "replicas": replicas,
                                 "podTemplate": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if type_ == "worker":
        component["sharedMemorySize"] = WORKER_SHARED_MEMORY
    return component


def _model_volume(cfg: StackConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(volume, mount) that shows `/models/<model>`: the NFS claim on GPUs, the tokenizer on the mocker."""
    if cfg.uses_gpus:
        return ({"name": MODEL_PVC, "persistentVolumeClaim": {"claimName": MODEL_PVC}},
                {"name": MODEL_PVC, "mountPath": MODELS_MOUNT, "readOnly": True})
    return ({"name": "tokenizer", "configMap": {"name": TOKENIZER_CONFIG_MAP}},
            {"name": "tokenizer", "mountPath": f"{MODELS_MOUNT}/{cfg.model.name}", "readOnly": True})


FRONTEND_COMPONENTS = (KV_FRONTEND, BASELINE_FRONTEND)


def _frontend_pod(cfg: StackConfig, env: list[dict[str, Any]], extra_args: list[str]) -> dict[str, Any]:
    volume, mount = _model_volume(cfg)
    container: dict[str, Any] = {
        "name": MAIN_CONTAINER,
        "image": cfg.images.dynamo_frontend,
        "env": [*env, {"name": "DYN_MIGRATION_LIMIT", "value": str(FRONTEND_MIGRATION_LIMIT)},
                {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
        "resources": {side: dict(values) for side, values in FRONTEND_RESOURCES.items()},
        "volumeMounts": [mount],
    }
    if extra_args:
        container.update(command=["python3", "-m", "dynamo.frontend"], args=list(extra_args))
    return {"nodeSelector": {POOL_LABEL: "management"}, "volumes": [volume], "containers": [container]}


def _trtllm_worker_pod(cfg: StackConfig) -> dict[str, Any]:
    volume, mount = _model_volume(cfg)
    gpus = str(cfg.model.tensor_parallel)
    return {
        "runtimeClassName": "nvidia",
        "tolerations": [dict(GPU_TOLERATION)],
        "nodeSelector": {POOL_LABEL: "gpu"},
        "volumes": [
            volume,
            {"name": "engine-config", "configMap": {"name": engine_config_name(cfg)}},
            {"name": "cuda-compat", "emptyDir": {}},
        ],
        "containers": [{
            "name": MAIN_CONTAINER,
            "image": cfg.images.trtllm_runtime,
            "command": ["python3", "-m", "dynamo.trtllm"],
            "args": trtllm_worker_args(cfg),
            "env": [dict(e) for e in WORKER_HEALTH_ENV],
            **worker_probes(cfg.model.ready_timeout_minutes),
            "resources": {"requests": {**WORKER_REQUESTS, GPU_RESOURCE: gpus},
                          "limits": {**WORKER_LIMITS, GPU_RESOURCE: gpus}},
            "volumeMounts": [
                mount,
                {"name": "engine-config", "mountPath": ENGINE_CONFIG_MOUNT, "readOnly": True},
                {"name": "cuda-compat", "mountPath": CUDA_COMPAT_PATH},
            ],
        }],
    }


def _mocker_worker_pod(cfg: StackConfig) -> dict[str, Any]:
    volume, mount = _model_volume(cfg)
    return {
        "nodeSelector": {POOL_LABEL: "management"},
        "volumes": [volume],
        "containers": [{
            "name": MAIN_CONTAINER,
            "image": cfg.images.mocker or cfg.images.dynamo_frontend,
            "command": ["python3", "-m", "dynamo.mocker"],
            "args": mocker_worker_args(cfg),
            "env": [dict(e) for e in WORKER_HEALTH_ENV],
            **worker_probes(cfg.model.ready_timeout_minutes),
            "resources": {side: dict(values) for side, values in MOCKER_RESOURCES.items()},
            "volumeMounts": [mount],
        }],
    }
