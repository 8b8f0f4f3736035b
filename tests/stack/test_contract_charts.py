"""Every Helm release the program declares, for both stacks, rendered with real `helm template` from the
vendored chart archives using exactly the values the program computes (the mock-runtime plan):

- it renders (the chart's own validation, e.g. dynamo-platform's validate-values.yaml, passes);
- every values key the program sets exists in the chart or a subchart, unless it sits in a free-form map;
- every rendered object, and every Kubernetes object the program declares itself, matches the
  Kubernetes schemas of the cluster's minor version (kubernetes-validate, strict) or, for a custom
  resource, its CRD's schema for the apiVersion used (CRDs rendered by the vendored charts, plus
  vendor/crds), with unknown fields rejected and deprecated or unserved versions refused.

The vendored dynamo-platform is Dynamo main of 2026-08-21 (1.5.0), the nearest offline source to the
pinned 1.6.1 (vendor/README.md); docs/architecture.md, "Checks that need the network", says how to run this against
the exact release.
"""

from __future__ import annotations

import copy
import functools
import gzip

import kubernetes_validate
import pytest

from chart_values import ChartValues
from crd_schema import CrdCatalog
from plan import Plan
from components.charts import CHARTS, REPO_ROOT
from tools.helm import HelmError, load_all, template
from tools.render_charts import API_VERSIONS
from tools.render_charts import kube_version as stack_kube_version

RELEASE = "kubernetes:helm.sh/v3:Release"
STACKS = ("dev", "prod")
VENDORED_CRDS = sorted((REPO_ROOT / "vendor" / "crds").glob("*.yaml.gz"))


def kube_version(plan: Plan) -> str:
    return stack_kube_version(plan.stack)


@functools.lru_cache(maxsize=None)
def chart_values(release: str) -> ChartValues:
    return ChartValues.from_archive(CHARTS[release].vendored_path.read_bytes())


_RENDERED: dict[tuple[str, str], object] = {}


def rendered(plan: Plan, release: str):
    """(inputs, objects or HelmError) of one release of `plan`, rendered once per session."""
    key = (plan.stack, release)
    if key not in _RENDERED:
        inputs = plan.get(RELEASE, f"platform-{release}").plain
        try:
            objects = template(CHARTS[release].vendored_path, inputs["name"], inputs["namespace"],
                               inputs.get("values") or {}, kube_version(plan), API_VERSIONS)
        except HelmError as exc:
            objects = exc
        _RENDERED[key] = (inputs, objects)
    return _RENDERED[key]


@pytest.fixture(scope="module")
def plans(dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}


@pytest.fixture(scope="module")
def crds(plans) -> CrdCatalog:
    """Every CRD the vendored charts render for either stack, and the vendored CRD files."""
    found = []
    for plan in plans.values():
        for release in releases(plan):
            _, objects = rendered(plan, release)
            if not isinstance(objects, Exception):
                found += [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
    for path in VENDORED_CRDS:
        found += load_all(gzip.decompress(path.read_bytes()).decode())
    return CrdCatalog(found)


def releases(plan: Plan) -> list[str]:
    return sorted(r.plain["name"] for r in plan.by_type(RELEASE))


def schema_problems(obj: dict, version: str, crds: CrdCatalog) -> list[str]:
    """Why the API server of Kubernetes `version` (with these CRDs) would refuse or alter `obj`."""
    group = obj.get("apiVersion", "").rpartition("/")[0]
    if group and any(api.rpartition("/")[0] == group for api, _ in crds.kinds()):
        return crds.errors(obj)
    where = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')!r} ({obj.get('apiVersion')})"
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}: Kubernetes {version} does not serve {obj.get('apiVersion')} {obj.get('kind')}"]
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(root)"
        return [f"{where}: {path}: {exc.message}"]
    return []


# -- the program's releases ------------------------------------------------------------------------


def test_the_program_declares_exactly_the_pinned_releases(plans):
    for plan in plans.values():
        assert releases(plan) == sorted(CHARTS), plan.stack


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("release", sorted(CHARTS))
def test_every_release_renders_with_the_programs_values(plans, stack, release):
    inputs, objects = rendered(plans[stack], release)
    assert not isinstance(objects, Exception), str(objects)
    assert objects, f"{release} rendered nothing"
    assert inputs["namespace"] and all(o.get("kind") for o in objects)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("release", sorted(CHARTS))
def test_every_values_key_exists_in_the_chart(plans, stack, release):
    inputs = plans[stack].get(RELEASE, f"platform-{release}").plain
    unknown = chart_values(release).unknown_keys(inputs.get("values") or {})
    assert unknown == [], f"{release} ({CHARTS[release].vendored_file}) has no values key(s): {', '.join(unknown)}"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("release", sorted(CHARTS))
def test_rendered_objects_match_kubernetes_and_crd_schemas(plans, crds, stack, release):
    _, objects = rendered(plans[stack], release)
    assert not isinstance(objects, Exception), str(objects)
    version = kube_version(plans[stack])
    found = [p for obj in objects for p in schema_problems(obj, version, crds)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("stack", STACKS)
def test_the_programs_own_objects_match_kubernetes_and_crd_schemas(plans, crds, stack):
    plan = plans[stack]
    objects = [r.plain for r in plan.resources
               if r.custom and r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm.sh/")
               and r.type != "pulumi:providers:kubernetes"]
    assert len(objects) > 20
    found = [p for obj in objects for p in schema_problems(obj, kube_version(plan), crds)]
    assert found == [], "\n".join(found)


def test_every_custom_resource_the_program_declares_has_a_served_crd(plans, mocker_plan, crds):
    crd_groups = {api.rpartition("/")[0] for api, _ in crds.kinds()}
    declared = {(r.plain["apiVersion"], r.plain["kind"]) for plan in (*plans.values(), mocker_plan)
                for r in plan.resources if r.custom and r.type.startswith("kubernetes:")
                and r.plain.get("apiVersion", "").rpartition("/")[0] in crd_groups}
    assert declared == {
        ("nvidia.com/v1beta1", "DynamoGraphDeployment"),
        ("gateway.networking.k8s.io/v1", "Gateway"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("cert-manager.io/v1", "ClusterIssuer"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("cilium.io/v2", "CiliumNetworkPolicy"),
    }
    for key in declared:
        assert crds.versions[key].served and not crds.versions[key].deprecated, key


# -- each check can fail, and says where -----------------------------------------------------------


def test_old_dynamo_platform_values_fail_the_render(dev_plan):
    values = {"grove": {"enabled": True}, "kai-scheduler": {"enabled": True}}
    with pytest.raises(HelmError) as info:
        template(CHARTS["dynamo-platform"].vendored_path, "dynamo-platform", "dynamo-system", values,
                 kube_version(dev_plan), API_VERSIONS)
    assert "BREAKING CHANGE: 'grove.enabled' has been removed" in str(info.value)


def test_a_values_key_the_chart_lacks_is_named_with_its_path():
    values = {"prometheusEndpoint": "http://prometheus:9090",  # silently ignored by the real chart
              "dynamo-operator": {"dynamo": {"metrics": {"prometheusEndpoint": "ok", "prometheusEndpont": "typo"}}},
              "global": {"grove": {"install": False}}}
    assert chart_values("dynamo-platform").unknown_keys(values) == [
        "dynamo-operator.dynamo.metrics.prometheusEndpont", "prometheusEndpoint"]


def test_keys_in_free_form_maps_are_not_checked_but_keys_beside_them_are():
    values = {"grafana": {"grafana.ini": {"server": {"root_url": "x"}}, "sidecar": {"dashboards": {"labelValu": "1"}}},
              "prometheus": {"prometheusSpec": {"podMonitorNamespaceSelector": {"matchLabels": {"a": "b"}}}}}
    assert chart_values("kube-prometheus-stack").unknown_keys(values) == ["grafana.sidecar.dashboards.labelValu"]


def test_a_rendered_object_with_an_unknown_field_is_reported(plans, crds):
    _, objects = rendered(plans["dev"], "external-dns")
    [deployment] = [copy.deepcopy(o) for o in objects if o["kind"] == "Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    [problem] = schema_problems(deployment, "1.33.0", crds)
    assert "Deployment 'external-dns' (apps/v1)" in problem and "imagePullPolicyy" in problem


def test_an_api_the_cluster_does_not_serve_is_reported(crds):
    psp = {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "x"}, "spec": {}}
    assert schema_problems(psp, "1.33.0", crds) == [
        "PodSecurityPolicy 'x' (policy/v1beta1): Kubernetes 1.33.0 does not serve policy/v1beta1 PodSecurityPolicy"]


def test_a_custom_resource_with_an_unknown_field_is_reported(dev_plan, crds):
    issuer = copy.deepcopy(dev_plan.get("kubernetes:cert-manager.io/v1:ClusterIssuer").plain)
    issuer["spec"]["acme"]["privateKeySecretRefs"] = issuer["spec"]["acme"]["privateKeySecretRef"]
    problems = schema_problems(issuer, "1.33.0", crds)
    assert len(problems) == 1 and "spec.acme" in problems[0] and "'privateKeySecretRefs' was unexpected" in problems[0]


def test_a_custom_resource_in_a_deprecated_version_is_refused(dev_plan, crds):
    monitor = copy.deepcopy(dev_plan.get("kubernetes:monitoring.coreos.com/v1:PodMonitor").plain)
    monitor["apiVersion"] = "monitoring.coreos.com/v1alpha1"
    [problem] = schema_problems(monitor, "1.33.0", crds)
    assert "no CRD serves monitoring.coreos.com/v1alpha1 PodMonitor" in problem


def test_a_cilium_policy_with_an_unknown_field_or_no_selector_is_refused(crds):
    """The branches of a CRD's oneOf constrain values only; the schema's own properties still refuse typos."""
    good = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "x", "namespace": "n"},
            "spec": {"endpointSelector": {"matchLabels": {"a": "b"}},
                     "ingress": [{"fromEntities": ["ingress"], "toPorts": [{"ports": [{"port": "3000", "protocol": "TCP"}]}]}]}}
    assert crds.errors(good) == []
    typo = copy.deepcopy(good)
    typo["spec"]["ingress"][0]["fromEntity"] = typo["spec"]["ingress"][0].pop("fromEntities")
    assert crds.errors(typo), "a misspelled fromEntities passed"
    no_selector = copy.deepcopy(good)
    del no_selector["spec"]["endpointSelector"]
    assert crds.errors(no_selector), "a policy selecting nothing passed"
    bad_entity = copy.deepcopy(good)
    bad_entity["spec"]["ingress"][0]["fromEntities"] = ["everyone"]
    assert crds.errors(bad_entity), "an unknown entity passed"
