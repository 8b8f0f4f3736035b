"""The DynamoGraphDeployment validates against the real DGD CRD (vendor/crds, from Dynamo's source):
the version it uses is served and not deprecated, and no field is unknown to that version's schema."""

import copy
import gzip

import pytest

from crd_schema import CrdCatalog
from dgd_view import dgd
from components.charts import REPO_ROOT
from tools.helm import load_all

DGD_CRD = REPO_ROOT / "vendor" / "crds" / "nvidia.com_dynamographdeployments.yaml.gz"


@pytest.fixture(scope="module")
def dgd_crd() -> CrdCatalog:
    return CrdCatalog(load_all(gzip.decompress(DGD_CRD.read_bytes()).decode()))


def test_the_vendored_crd_is_the_one_the_issue_describes(dgd_crd):
    v1alpha1 = dgd_crd.versions[("nvidia.com/v1alpha1", "DynamoGraphDeployment")]
    v1beta1 = dgd_crd.versions[("nvidia.com/v1beta1", "DynamoGraphDeployment")]
    assert v1alpha1.served and v1alpha1.deprecated and "use nvidia.com/v1beta1" in v1alpha1.warning
    assert v1beta1.served and not v1beta1.deprecated


@pytest.mark.parametrize("which", ["dev", "prod", "mocker"])
def test_the_program_dgd_validates_against_its_crd(which, dev_plan, prod_plan, mocker_plan, dgd_crd):
    plan = {"dev": dev_plan, "prod": prod_plan, "mocker": mocker_plan}[which]
    assert dgd_crd.errors(dgd(plan).plain) == []


def test_an_unknown_field_is_named_with_its_path(dev_plan, dgd_crd):
    graph = copy.deepcopy(dgd(dev_plan).plain)
    graph["spec"]["components"][2]["extraPodSpec"] = {}  # the v1alpha1 spelling, unknown in v1beta1
    graph["spec"]["components"][2]["podTemplate"]["spec"]["containers"][0]["mountPoint"] = "/models"
    assert dgd_crd.errors(graph) == [
        "DynamoGraphDeployment 'gtc-demo' (nvidia.com/v1beta1): spec.components.2: Additional properties are "
        "not allowed ('extraPodSpec' was unexpected)",
        "DynamoGraphDeployment 'gtc-demo' (nvidia.com/v1beta1): spec.components.2.podTemplate.spec.containers.0: "
        "Additional properties are not allowed ('mountPoint' was unexpected)",
    ]


def test_a_wrong_type_or_enum_is_named(dev_plan, dgd_crd):
    graph = copy.deepcopy(dgd(dev_plan).plain)
    graph["spec"]["components"][0]["type"] = "router"
    graph["spec"]["components"][2]["replicas"] = "2"
    errors = dgd_crd.errors(graph)
    assert any("spec.components.0.type: 'router' is not one of" in e for e in errors), errors
    assert any("spec.components.2.replicas: '2' is not of type 'integer'" in e for e in errors), errors


def test_the_deprecated_version_is_refused(dev_plan, dgd_crd):
    graph = copy.deepcopy(dgd(dev_plan).plain)
    graph["apiVersion"] = "nvidia.com/v1alpha1"
    assert dgd_crd.errors(graph) == [
        "DynamoGraphDeployment 'gtc-demo' (nvidia.com/v1alpha1): nvidia.com/v1alpha1 is deprecated: "
        "nvidia.com/v1alpha1 DynamoGraphDeployment is deprecated; use nvidia.com/v1beta1 DynamoGraphDeployment"]


def test_a_version_no_crd_serves_is_refused(dev_plan, dgd_crd):
    graph = copy.deepcopy(dgd(dev_plan).plain)
    graph["apiVersion"] = "nvidia.com/v1"
    [error] = dgd_crd.errors(graph)
    assert "no CRD serves nvidia.com/v1 DynamoGraphDeployment" in error and "nvidia.com/v1beta1" in error
