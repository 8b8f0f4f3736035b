"""Across the workloads: every container image pinned, every secret value a Pulumi secret, the exports."""

import json
import re

from plan import is_secret, stack_config

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def images(value):
    """Every `image` string anywhere in a resource's inputs (typed objects and custom resources alike)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "image" and isinstance(inner, str):
                yield inner
            else:
                yield from images(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from images(inner)


def pinned(image: str) -> bool:
    if DIGEST.search(image):
        return True
    name, sep, tag = image.rpartition(":")
    return bool(sep and name and "/" not in tag and tag != "latest")


def all_images(plan):
    return {image for r in plan.resources if r.type.startswith("kubernetes:") for image in images(r.plain)}


def test_every_image_is_pinned(stack_plan, mocker_plan):
    for plan in (stack_plan, mocker_plan):
        found = all_images(plan)
        assert found, "no images found: the walker is broken"
        assert all(pinned(i) for i in found), sorted(i for i in found if not pinned(i))


def test_images_come_from_the_stack_config(stack_plan):
    built = stack_plan.outputs["loadgenImage"]  # the load generator's, built by the program (tag@digest)
    registry = stack_config(stack_plan.stack)["gtc-demo:containerRegistry"]
    assert built.startswith(f"registry.digitalocean.com/{registry}/gtc-demo-loadgen:")
    assert all_images(stack_plan) == {
        "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.6.1",
        "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:1.6.1",
        built,
        "python:3.11.11-slim",
    }


def test_pinning_check_can_fail():
    assert not pinned("python")
    assert not pinned("python:latest")
    assert not pinned("registry:5000/app")
    assert pinned("python@sha256:" + "a" * 64)


def test_every_secret_value_is_a_pulumi_secret(stack_plan, mocker_plan):
    for plan in (stack_plan, mocker_plan):
        secrets = plan.by_type("kubernetes:core/v1:Secret")
        assert any(s.name == "loadgen-control-token" for s in secrets)
        for secret in secrets:
            for field in ("data", "stringData"):
                if field in secret.inputs:
                    assert is_secret(secret.inputs[field]), f"{secret.name}.{field}"


def test_no_secret_value_in_plain_workload_specs(stack_plan):
    """Fake secret values from the test config must not appear outside Secret objects."""
    fakes = ("hf_fake_token_for_tests", "fake_gradient_key_for_tests", "dop_v1_fake_token_for_tests",
             "fake-spaces-secret", "loadgen-control-token-generated-value")
    for resource in stack_plan.resources:
        if resource.type in ("kubernetes:core/v1:Secret", "pulumi:providers:kubernetes"):
            continue
        text = json.dumps(resource.inputs)
        for fake in fakes:
            assert fake not in text, f"{fake} leaks into {resource.name}"


def test_outputs(stack_plan):
    out = stack_plan.outputs
    for key in ("uiUrl", "grafanaUrl", "frontendUrl", "baselineFrontendUrl"):
        assert isinstance(out[key], str) and out[key], key
    assert is_secret(out["loadgenControlToken"])
    assert not is_secret(out["uiUrl"])
