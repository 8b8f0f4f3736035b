"""container-resources: every container declares cpu and memory requests and limits."""
from policy_harness import DEPLOYMENT, DGD, container, deployment, dgd, dgd_worker, messages

POLICY = "container-resources"


def test_container_with_requests_and_limits_passes():
    assert messages(DEPLOYMENT, "loadgen", deployment(), POLICY) == []


def test_missing_keys_are_listed():
    c = container("loadgen")
    c["resources"] = {"requests": {"cpu": "100m"}}
    assert messages(DEPLOYMENT, "loadgen", deployment(c), POLICY) == [
        'Deployment "loadgen": container "loadgen" is missing resources.requests.memory, '
        "resources.limits.cpu, resources.limits.memory"]


def test_dgd_service_resources_count_for_the_main_container():
    assert messages(DGD, "gtc-demo", dgd(), POLICY) == []


def test_dgd_service_without_resources_is_named():
    worker = dgd_worker()
    del worker["resources"]
    found = messages(DGD, "gtc-demo", dgd(TrtllmWorker=worker), POLICY)
    assert found == ['DynamoGraphDeployment "gtc-demo": service "TrtllmWorker" mainContainer is missing '
                     "resources.requests.cpu, resources.requests.memory, resources.limits.cpu, "
                     "resources.limits.memory"]
