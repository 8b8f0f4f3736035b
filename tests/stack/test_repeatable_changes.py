"""Which resources a config change touches, from comparing two mock plans.

Changing only the load generator image touches only its Deployment; changing the model re-runs the
model pipeline Jobs and rolls the DGD's workers, and leaves the cloud infrastructure and the charts alone.

A resource is touched when its inputs differ, and also when it reads an output of a touched resource
(a replaced, auto-named ConfigMap gets a new name, so the Deployment that references it rolls): the
mock runtime does not invent those new names, so the comparison follows property dependencies instead.
"""
import json
from typing import Dict, Set

import pytest

from plan import Plan, Resource, evaluate, stack_config

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
DGD = "kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
OTHER_MODEL = "nvidia/Llama-3.1-8B-Instruct-FP8"


def inputs_changed(before: Plan, after: Plan) -> Set[str]:
    """URNs added, removed, or whose inputs differ."""
    old = {r.urn: json.dumps(r.inputs, sort_keys=True) for r in before.resources}
    new = {r.urn: json.dumps(r.inputs, sort_keys=True) for r in after.resources}
    return {urn for urn in old.keys() | new.keys() if old.get(urn) != new.get(urn)}


def touched(before: Plan, after: Plan) -> Dict[str, Resource]:
    """What `pulumi up` would create, update, replace or delete: changed inputs plus their readers."""
    every = {r.urn: r for r in before.resources + after.resources}
    affected = inputs_changed(before, after)
    grew = True
    while grew:
        readers = {r.urn for r in after.resources
                   if any(dep in affected for deps in r.property_dependencies.values() for dep in deps)}
        grew = not readers <= affected
        affected |= readers
    return {urn: every[urn] for urn in affected}


def images_of(resource: Resource) -> Set[str]:
    spec = resource.plain.get("spec", {}).get("template", {}).get("spec", {})
    return {c.get("image") for c in spec.get("containers", [])}


def mentions(value, needle: str) -> bool:
    if isinstance(value, dict):
        return any(mentions(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, needle) for v in value)
    return isinstance(value, str) and needle in value


@pytest.fixture(scope="module")
def dev_config():
    return stack_config("dev")


def test_changing_the_load_generator_image_touches_only_its_deployment_and_the_check(dev_config):
    """With a prebuilt image (loadgen.image.source: prebuilt), a new reference rolls the Deployment and re-runs
    the verification Job (it runs the same image), nothing else."""
    loadgen = dict(dev_config["gtc-demo:loadgen"]) | {"image": {"source": "prebuilt", "reason": "test"}}
    base = "registry.digitalocean.com/do-solutions-sfo3/gtc-demo-loadgen"
    images = dict(dev_config["gtc-demo:images"])
    before = evaluate("dev", overrides={"gtc-demo:loadgen": loadgen, "gtc-demo:images": images | {"loadgen": f"{base}:1"}})
    after = evaluate("dev", overrides={"gtc-demo:loadgen": loadgen, "gtc-demo:images": images | {"loadgen": f"{base}:2"}})
    deployments = [r for r in before.by_type(DEPLOYMENT) if f"{base}:1" in images_of(r)]
    assert len(deployments) == 1, "expected exactly one Deployment running the load generator image"
    assert sorted(r.name for r in touched(before, after).values()) == sorted([deployments[0].name, "verification-job"])


def test_changing_the_model_reruns_the_pipeline_and_rolls_the_workers(dev_plan, dev_config):
    model = dict(dev_config["gtc-demo:model"])
    old_model, model["name"] = model["name"], OTHER_MODEL
    after = evaluate("dev", overrides={"gtc-demo:model": model})
    changed = touched(dev_plan, after)

    pipeline_jobs = dev_plan.by_type(JOB)
    assert pipeline_jobs and all(mentions(job.plain, old_model) for job in pipeline_jobs)
    assert {job.urn for job in pipeline_jobs} <= changed.keys(), "the model pipeline does not re-run"

    before_dgd, after_dgd = dev_plan.get(DGD), after.get(DGD)
    assert before_dgd.urn in changed
    def by_name(graph):
        return {c["name"]: c for c in graph.plain["spec"]["components"]}
    workers = [name for name, component in by_name(before_dgd).items() if component.get("type") == "worker"]
    assert workers, "the DGD has no worker component"
    for worker in workers:
        old_spec, new_spec = (by_name(d)[worker] for d in (before_dgd, after_dgd))
        assert old_spec != new_spec and mentions(new_spec, OTHER_MODEL), f"{worker} does not roll to the new model"

    assert DEPLOYMENT in {r.type for r in changed.values()}, "the load generator keeps asking for the old model"

    outside = sorted(r.name for r in changed.values()
                     if r.type.startswith(("digitalocean:", "kubernetes:helm.sh/", "random:", "pulumi:")))
    assert outside == [], "a model change must not touch infrastructure, charts or generated secrets"
    assert {r.type for r in changed.values()} <= {JOB, DGD, CONFIG_MAP, DEPLOYMENT}
