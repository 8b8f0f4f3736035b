"""pinned-images: every container, in every workload kind and in every DGD service, names a pinned image."""
import pytest

from policy_harness import (DEPLOYMENT, DGD, JOB, POD, container, deployment, dgd, dgd_worker, messages)

POLICY = "pinned-images"
DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("image", [
    "registry.digitalocean.com/do-solutions-sfo3/gtc-demo-loadgen:20260210-a1b2c3d",
    f"ghcr.io/acme/loadgen@{DIGEST}",
    "localhost:5000/loadgen:1.0",
])
def test_pinned_images_pass(image):
    assert messages(DEPLOYMENT, "loadgen", deployment(container("loadgen", image)), POLICY) == []


@pytest.mark.parametrize("image, reason", [
    ("ghcr.io/acme/loadgen:latest", 'image "ghcr.io/acme/loadgen:latest" uses the "latest" tag'),
    ("ghcr.io/acme/loadgen", 'image "ghcr.io/acme/loadgen" has no tag or digest'),
    ("localhost:5000/loadgen", 'image "localhost:5000/loadgen" has no tag or digest'),
    ("ghcr.io/acme/loadgen@sha256:abc", 'image "ghcr.io/acme/loadgen@sha256:abc" has a malformed digest'),
])
def test_unpinned_images_are_named_in_the_violation(image, reason):
    found = messages(DEPLOYMENT, "loadgen", deployment(container("loadgen", image)), POLICY)
    assert len(found) == 1
    assert found[0].startswith(f'Deployment "loadgen": container "loadgen" {reason}')


def test_init_containers_of_a_job_are_checked():
    job = {"spec": {"template": {"spec": {
        "initContainers": [container("fetch", "amazon/aws-cli:latest")],
        "containers": [container("copy", "busybox:1.36")]}}}}
    assert messages(JOB, "model-to-nfs", job, POLICY) == [
        'Job "model-to-nfs": initContainer "fetch" image "amazon/aws-cli:latest" uses the "latest" tag; '
        "pin an explicit version tag or an @sha256 digest"]


def test_bare_pod_is_checked():
    pod = {"spec": {"containers": [container("debug", "busybox")]}}
    assert messages(POD, "debug", pod, POLICY)[0].startswith('Pod "debug": container "debug" image "busybox"')


def test_dgd_service_images_are_checked():
    worker = dgd_worker()
    worker["extraPodSpec"]["mainContainer"]["image"] = "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:latest"
    found = messages(DGD, "gtc-demo", dgd(TrtllmWorker=worker), POLICY)
    assert found == ['DynamoGraphDeployment "gtc-demo": service "TrtllmWorker" mainContainer image '
                     '"nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:latest" uses the "latest" tag; '
                     "pin an explicit version tag or an @sha256 digest"]


def test_dgd_service_without_image_is_a_violation():
    worker = dgd_worker()
    del worker["extraPodSpec"]["mainContainer"]["image"]
    found = messages(DGD, "gtc-demo", dgd(TrtllmWorker=worker), POLICY)
    assert found and 'service "TrtllmWorker" mainContainer has no image' in found[0]


def test_compliant_dgd_passes():
    assert messages(DGD, "gtc-demo", dgd(), POLICY) == []
