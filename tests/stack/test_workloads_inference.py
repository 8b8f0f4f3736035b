"""The DynamoGraphDeployment (seed 000 Group 1): exact spec, the Ready wait, its dependencies, the mocker switch."""

import hashlib
import json

import pytest
import yaml
from kubernetes_validate import validate as k8s_validate

from dgd_view import components, dgd, env, main_container, pod_spec

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
MODEL = "nvidia/Llama-3.1-70B-Instruct-FP8"
K8S_VERSION = "1.33.0"


def test_graph_identity_and_annotations(stack_plan):
    graph = dgd(stack_plan).plain
    assert graph["apiVersion"] == "nvidia.com/v1beta1"  # v1alpha1 is deprecated; v1beta1 is the storage version
    assert graph["kind"] == "DynamoGraphDeployment"
    assert graph["metadata"]["name"] == "gtc-demo"
    assert graph["metadata"]["namespace"] == "dynamo-workload"
    annotations = graph["metadata"]["annotations"]
    assert annotations["nvidia.com/enable-grove"] == "false"
    assert graph["spec"]["backendFramework"] == "trtllm"
    assert [c["name"] for c in graph["spec"]["components"]] == ["Frontend", "FrontendRoundRobin", "TrtllmWorker"]
    assert "services" not in graph["spec"] and "pvcs" not in graph["spec"]


def test_worker_spec_is_exactly_the_aggregated_tp4_layout(stack_plan):
    worker = components(stack_plan)["TrtllmWorker"]
    engine_config = stack_plan.get(CONFIG_MAP, "inference-engine-config").plain["metadata"]["name"]
    assert worker == {
        "name": "TrtllmWorker",
        "type": "worker",
        "replicas": 2,
        # Issue 16: no hostIPC, no IPC_LOCK (the ranks share the container's IPC namespace; the operator mounts
        # a 16Gi /dev/shm), the restricted securityContext, and the role label the NetworkPolicies select.
        "sharedMemorySize": "16Gi",
        "podTemplate": {"metadata": {"labels": {"app.kubernetes.io/part-of": "gtc-demo", "gtc-demo/graph-role": "worker",
                                                "gtc-demo/graph-component": "trtllmworker"}},
                        "spec": {
            "runtimeClassName": "nvidia",
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "nodeSelector": {"gtc-demo/pool": "gpu"},
            "volumes": [
                {"name": "model-nfs-pvc", "persistentVolumeClaim": {"claimName": "model-nfs-pvc"}},
                {"name": "engine-config", "configMap": {"name": engine_config}},
                {"name": "cuda-compat", "emptyDir": {}},
            ],
            "containers": [{
                "name": "main",
                "image": "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:1.6.1",
                "command": ["python3", "-m", "dynamo.trtllm"],
                "args": [
                    "--model", f"/models/{MODEL}",
                    "--served-model-name", MODEL,
                    "--tensor-parallel-size", "4",
                    "--max-batch-size", "16",
                    "--max-num-tokens", "8192",
                    "--free-gpu-memory-fraction", "0.85",
                    "--extra-engine-args", "/engine-config/engine.yaml",
                    "--publish-kv-events",
                    "--publish-metrics",
                ],
                # Self-healing (tests/stack/test_worker_health.py): the system server, its canary, three probes.
                "env": [
                    {"name": "DYN_SYSTEM_ENABLED", "value": "true"},
                    {"name": "DYN_SYSTEM_PORT", "value": "9090"},
                    {"name": "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "value": '["generate"]'},
                    {"name": "DYN_HEALTH_CHECK_ENABLED", "value": "true"},
                ],
                "startupProbe": {"httpGet": {"path": "/live", "port": 9090}, "periodSeconds": 10,
                                 "timeoutSeconds": 5, "failureThreshold": 540},
                "livenessProbe": {"httpGet": {"path": "/live", "port": 9090}, "periodSeconds": 10,
                                  "timeoutSeconds": 5, "failureThreshold": 3},
                "readinessProbe": {"httpGet": {"path": "/health", "port": 9090}, "periodSeconds": 10,
                                   "timeoutSeconds": 5, "failureThreshold": 3},
                "resources": {"requests": {"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": "4"},
                              "limits": {"cpu": "48", "memory": "512Gi", "nvidia.com/gpu": "4"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": False,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [
                    {"name": "model-nfs-pvc", "mountPath": "/models", "readOnly": True},
                    {"name": "engine-config", "mountPath": "/engine-config", "readOnly": True},
                    {"name": "cuda-compat", "mountPath": "/usr/local/cuda/compat/lib"},
                ],
            }],
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        }},
    }


def test_what_must_be_absent(stack_plan):
    """No prefill/decode split, no scaling adapter, no NIXL/UCX, no Grove/KAI, no deprecated or unknown flags."""
    text = json.dumps(dgd(stack_plan).plain)
    for banned in ("prefill", "decode", "scalingAdapter", "disaggregation", "UCX_", "NIXL", "nixl",
                   "cache_transceiver", "TrtllmPrefillWorker", "TrtllmDecodeWorker", "autoscaling",
                   "multinode", "kai.scheduler", "schedulerName", "grove.io"):
        assert banned not in text, banned
    args = main_container(components(stack_plan)["TrtllmWorker"])["args"]
    # Dynamo 1.6.1's TRT-LLM worker exits on it ("Unrecognized argument"); it is an engine arg instead.
    assert "--trust-remote-code" not in args
    # Deprecated in 1.6.1 (an alias "for one release") and an alias of --model.
    assert "--publish-events-and-metrics" not in args and "--model-path" not in args


def test_gpus_match_the_tensor_parallel_size(stack_plan):
    container = main_container(components(stack_plan)["TrtllmWorker"])
    args = container["args"]
    tp = args[args.index("--tensor-parallel-size") + 1]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == tp == "4"
    assert components(stack_plan)["TrtllmWorker"]["replicas"] * int(tp) == 8  # both stacks: one 8-GPU node


def test_kv_frontend_and_round_robin_baseline_share_the_workers(stack_plan):
    found = components(stack_plan)
    kv, baseline = found["Frontend"], found["FrontendRoundRobin"]
    for frontend in (kv, baseline):
        assert frontend["type"] == "frontend"
        assert frontend["replicas"] == 1
        container = main_container(frontend)
        assert container["image"] == "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.6.1"
        assert pod_spec(frontend)["nodeSelector"] == {"gtc-demo/pool": "management"}
        assert container["volumeMounts"][0] == {"name": "model-nfs-pvc", "mountPath": "/models", "readOnly": True}
        assert {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}} in container["env"]
        assert "gpu" not in json.dumps(container.get("resources", {}))
        assert "tolerations" not in pod_spec(frontend)
    assert env(kv)["DYN_ROUTER_MODE"] == "kv"
    assert env(baseline)["DYN_ROUTER_MODE"] == "round-robin"
    # The booth's router settings from the stack config (docs/rehearsal.md, "Router settings for the booth"), as a
    # --router-policy-config file (the DYN_ROUTER_* tuning variables are deprecated in ai-dynamo 1.6.1).
    tuning = {k: v for k, v in env(kv).items() if k.startswith("DYN_ROUTER_") and k != "DYN_ROUTER_MODE"}
    assert tuning == {"DYN_ROUTER_POLICY_CONFIG": "/router-policy/policy.yaml"}
    assert router_policy(stack_plan, kv) == {"prefill_load_scale": 4.0, "router_temperature": 0.0}
    assert "args" not in main_container(kv)
    assert main_container(baseline)["volumeMounts"] == [
        {"name": "model-nfs-pvc", "mountPath": "/models", "readOnly": True}]


def router_policy(plan, frontend) -> dict:
    """The worker-selection parameters in the policy file the frontend reads (mounted from its ConfigMap)."""
    [volume] = [v for v in pod_spec(frontend)["volumes"] if v["name"] == "router-policy"]
    config_map = plan.get(CONFIG_MAP, "inference-router-policy").plain
    assert config_map["metadata"]["name"] == volume["configMap"]["name"]
    assert {"name": "router-policy", "mountPath": "/router-policy", "readOnly": True} in main_container(frontend)[
        "volumeMounts"]
    policy = yaml.safe_load(config_map["data"]["policy.yaml"])
    [instance] = policy["worker_selection"]["instances"]
    assert policy["worker_selection"]["aggregated"] == instance["name"]
    assert instance["type"] == "dynamo-default-cost-fn"
    return instance["parameters"]


def test_router_settings_render_as_frontend_env_and_args():
    from plan import evaluate
    plan = evaluate("dev", overrides={"gtc-demo:router": {
        "overlapScoreCredit": 0.5, "temperature": 0.25, "extraArgs": ["--router-replica-sync"]}})
    found = components(plan)
    assert router_policy(plan, found["Frontend"]) == {"overlap_score_credit": 0.5, "router_temperature": 0.25}
    container = main_container(found["Frontend"])
    assert container["command"] == ["python3", "-m", "dynamo.frontend"]
    assert container["args"] == ["--router-replica-sync"]
    # The baseline is never tuned: it is the round-robin reference. (Request migration off a dead worker is
    # not routing: both frontends have it, tests/stack/test_worker_health.py.)
    assert set(env(found["FrontendRoundRobin"])) == {"DYN_ROUTER_MODE", "DYN_MIGRATION_LIMIT", "POD_UID"}


def test_engine_settings_config_map_from_typed_config(stack_plan):
    config_map = stack_plan.get(CONFIG_MAP, "inference-engine-config")
    # Named by its content, so a changed engine config changes the DGD and rolls the workers (issue 12).
    digest = hashlib.sha256(config_map.plain["data"]["engine.yaml"].encode()).hexdigest()[:8]
    assert config_map.plain["metadata"]["name"] == f"trtllm-engine-config-{digest}"
    assert config_map.plain["metadata"]["namespace"] == "dynamo-workload"
    engine = yaml.safe_load(config_map.plain["data"]["engine.yaml"])
    assert engine == {
        "backend": "pytorch",
        "tensor_parallel_size": 4,
        "max_batch_size": 16,
        "max_num_tokens": 8192,
        "enable_chunked_prefill": True,
        "trust_remote_code": True,
        "kv_cache_config": {"dtype": "fp8", "free_gpu_memory_fraction": 0.85, "enable_block_reuse": True},
        "cuda_graph_config": {"max_batch_size": 16},
    }
    k8s_validate(config_map.plain, K8S_VERSION, strict=True)


def test_pulumi_waits_for_ready_long_enough_for_a_70b_load(stack_plan):
    graph = dgd(stack_plan)
    assert graph.plain["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    timeouts = graph.options["customTimeouts"]
    for phase in ("create", "update"):
        assert timeouts[phase].endswith("m") and int(timeouts[phase][:-1]) >= 60, timeouts


@pytest.mark.parametrize("target_type,target_name", [
    ("kubernetes:helm.sh/v3:Release", "platform-dynamo-platform"),
    ("digitalocean:index/kubernetesNodePool:KubernetesNodePool", "infra-gpu-pool"),
    ("kubernetes:batch/v1:Job", "model-download"),
    ("kubernetes:batch/v1:Job", "model-upload"),
    ("kubernetes:node.k8s.io/v1:RuntimeClass", "platform-runtimeclass-nvidia"),
    ("kubernetes:core/v1:PersistentVolumeClaim", "platform-model-nfs-pvc"),
    (CONFIG_MAP, "inference-engine-config"),
])
def test_graph_is_created_after_and_destroyed_before(stack_plan, target_type, target_name):
    assert stack_plan.depends_on(dgd(stack_plan), stack_plan.get(target_type, target_name))


def test_graph_declares_its_direct_dependencies(dev_plan):
    direct = dgd(dev_plan).explicit_dependencies
    for target_type, target_name in [
        ("kubernetes:helm.sh/v3:Release", "platform-dynamo-platform"),
        ("digitalocean:index/kubernetesNodePool:KubernetesNodePool", "infra-gpu-pool"),
        ("kubernetes:batch/v1:Job", "model-download"),
    ]:
        assert dev_plan.get(target_type, target_name).urn in direct, target_name


def test_frontend_urls_are_exported_and_in_cluster(stack_plan):
    assert stack_plan.outputs["frontendUrl"] == "http://gtc-demo-frontend.dynamo-workload.svc.cluster.local:8000"
    assert stack_plan.outputs["baselineFrontendUrl"] == (
        "http://gtc-demo-frontendroundrobin.dynamo-workload.svc.cluster.local:8000")


# -- workerBackend: mocker ----------------------------------------------------------------------


def test_mocker_graph_has_no_gpus(mocker_plan):
    graph = dgd(mocker_plan).plain
    text = json.dumps(graph)
    for gpu_only in ("gpu", "nvidia.com/gpu", "runtimeClassName", "hostIPC", "IPC_LOCK", "tolerations",
                     "model-nfs-pvc", "kai.scheduler", "dynamo.trtllm"):
        assert gpu_only not in text, gpu_only
    assert [c["name"] for c in graph["spec"]["components"]] == ["Frontend", "FrontendRoundRobin", "TrtllmWorker"]
    assert "backendFramework" not in graph["spec"]
    assert mocker_plan.find("digitalocean:index/kubernetesNodePool:KubernetesNodePool") is None


def test_mocker_workers_run_the_trtllm_mocker_on_the_management_pool(mocker_plan):
    worker = components(mocker_plan)["TrtllmWorker"]
    assert worker["type"] == "worker"
    assert worker["replicas"] == 2
    assert pod_spec(worker)["nodeSelector"] == {"gtc-demo/pool": "management"}
    container = main_container(worker)
    assert container["command"] == ["python3", "-m", "dynamo.mocker"]
    # The stack's engine limits (maxBatchSize 16, maxNumTokens 8192, chunked prefill) in the mocker's spelling.
    assert container["args"] == ["--model-path", f"/models/{MODEL}", "--model-name", MODEL, "--engine-type", "trtllm",
                                 "--max-num-seqs", "16", "--max-num-batched-tokens", "8192", "--enable-chunked-prefill"]
    assert container["image"] == "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.6.1"


def test_mocker_tokenizer_is_mounted_where_the_model_would_be(mocker_plan):
    tokenizer = mocker_plan.get(CONFIG_MAP, "inference-mocker-tokenizer")
    assert "tokenizer.json" in tokenizer.plain["data"]
    json.loads(tokenizer.plain["data"]["tokenizer.json"])
    assert sum(len(v) for v in tokenizer.plain["data"].values()) < 1_000_000  # ConfigMap size limit
    for name, component in components(mocker_plan).items():
        mounts = main_container(component)["volumeMounts"]
        assert {"name": "tokenizer", "mountPath": f"/models/{MODEL}", "readOnly": True} in mounts, name
    assert mocker_plan.depends_on(dgd(mocker_plan), tokenizer)
    assert mocker_plan.depends_on(dgd(mocker_plan), mocker_plan.get("kubernetes:helm.sh/v3:Release",
                                                                    "platform-dynamo-platform"))


def test_mocker_keeps_the_ready_wait_and_the_frontends(mocker_plan):
    graph = dgd(mocker_plan)
    assert graph.plain["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    assert env(components(mocker_plan)["Frontend"])["DYN_ROUTER_MODE"] == "kv"
    assert mocker_plan.find(CONFIG_MAP, "inference-engine-config") is None
