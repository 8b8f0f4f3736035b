"""gpu-pods-tolerate-taint-and-use-nvidia-runtime: GPU pods land on the tainted GPU nodes and see the GPUs."""
from policy_harness import (DEPLOYMENT, DGD, DGD_V1BETA1, GPU_TOLERATION, container, deployment, dgd, dgd_v1beta1,
                            dgd_v1beta1_worker, dgd_worker, messages)

POLICY = "gpu-pods-tolerate-taint-and-use-nvidia-runtime"


def gpu_container():
    c = container("worker", "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04")
    c["resources"]["limits"]["nvidia.com/gpu"] = 4
    return c


def test_gpu_deployment_with_toleration_and_runtime_passes():
    props = deployment(gpu_container(), tolerations=[GPU_TOLERATION], runtimeClassName="nvidia")
    assert messages(DEPLOYMENT, "cuda-smoke", props, POLICY) == []


def test_equal_operator_toleration_without_value_matches_the_taint():
    toleration = {"key": "nvidia.com/gpu", "operator": "Equal", "effect": "NoSchedule"}
    props = deployment(gpu_container(), tolerations=[toleration], runtimeClassName="nvidia")
    assert messages(DEPLOYMENT, "cuda-smoke", props, POLICY) == []


def test_gpu_deployment_missing_toleration_and_runtime_reports_both():
    props = deployment(gpu_container(), tolerations=[{"key": "dedicated", "operator": "Exists"}])
    assert messages(DEPLOYMENT, "cuda-smoke", props, POLICY) == [
        'Deployment "cuda-smoke" requests nvidia.com/gpu but does not tolerate the nvidia.com/gpu:NoSchedule '
        "taint (toleration keys: ['dedicated'])",
        'Deployment "cuda-smoke" requests nvidia.com/gpu but runtimeClassName is unset; it must be "nvidia"',
    ]


def test_toleration_for_another_effect_does_not_count():
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}
    props = deployment(gpu_container(), tolerations=[toleration], runtimeClassName="nvidia")
    assert len(messages(DEPLOYMENT, "cuda-smoke", props, POLICY)) == 1


def test_cpu_pods_need_neither():
    assert messages(DEPLOYMENT, "loadgen", deployment(), POLICY) == []


def test_dgd_gpu_worker_with_wrong_runtime_class_is_named():
    worker = dgd_worker()
    worker["extraPodSpec"]["runtimeClassName"] = "runc"
    assert messages(DGD, "gtc-demo", dgd(TrtllmWorker=worker), POLICY) == [
        'DynamoGraphDeployment "gtc-demo": service "TrtllmWorker" requests nvidia.com/gpu but '
        'runtimeClassName is "runc"; it must be "nvidia"']


def test_dgd_gpu_worker_without_toleration_is_named():
    worker = dgd_worker()
    worker["extraPodSpec"]["tolerations"] = []
    found = messages(DGD, "gtc-demo", dgd(TrtllmWorker=worker), POLICY)
    assert found == ['DynamoGraphDeployment "gtc-demo": service "TrtllmWorker" requests nvidia.com/gpu but '
                     "does not tolerate the nvidia.com/gpu:NoSchedule taint (toleration keys: [])"]


def test_dgd_frontend_without_gpu_needs_no_toleration():
    assert messages(DGD, "gtc-demo", dgd(), POLICY) == []


def test_v1beta1_dgd_gpu_component_is_checked_through_its_pod_template():
    assert messages(DGD_V1BETA1, "gtc-demo", dgd_v1beta1(), POLICY) == []
    worker = dgd_v1beta1_worker(runtimeClassName="runc", tolerations=[])
    assert messages(DGD_V1BETA1, "gtc-demo", dgd_v1beta1(worker), POLICY) == [
        'DynamoGraphDeployment "gtc-demo": component "TrtllmWorker" requests nvidia.com/gpu but does not tolerate '
        "the nvidia.com/gpu:NoSchedule taint (toleration keys: [])",
        'DynamoGraphDeployment "gtc-demo": component "TrtllmWorker" requests nvidia.com/gpu but '
        'runtimeClassName is "runc"; it must be "nvidia"']
