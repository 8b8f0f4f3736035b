"""The load generator's image is part of the graph: built from loadgen/, tagged by content, pushed with
registry credentials that stay secrets; or, by a typed switch, a prebuilt reference."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from components.loadgen_image import REPO, content_tag, registry_login
from plan import PlanError, evaluate, is_secret, stack_config

IMAGE = "docker-build:index:Image"
CREDENTIALS = "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DOCKERFILE = REPO / "loadgen" / "Dockerfile"


def test_builds_loadgen_and_pushes_it_tagged_by_content(stack_plan):
    image = stack_plan.get(IMAGE)
    spec = image.plain
    registry = stack_config(stack_plan.stack)["gtc-demo:containerRegistry"]
    assert spec["tags"] == [f"registry.digitalocean.com/{registry}/gtc-demo-loadgen:{content_tag()}"]
    assert spec["push"] is True and spec["buildOnPreview"] is False  # PR previews need no Docker engine
    assert spec["context"] == {"location": "."} and spec["dockerfile"] == {"location": "loadgen/Dockerfile"}
    assert spec["platforms"] == ["linux/amd64"]


def test_registry_credentials_come_from_the_registry_resource_as_secrets(stack_plan):
    credentials = stack_plan.get(CREDENTIALS)
    assert credentials.plain["write"] is True and credentials.plain["expirySeconds"] == 30 * 86400
    assert "dockerCredentials" in credentials.options["additionalSecretOutputs"]
    image = stack_plan.get(IMAGE)
    [registry] = image.inputs["registries"]
    assert registry["address"] == "registry.digitalocean.com"
    assert is_secret(registry["username"]) and is_secret(registry["password"])
    assert credentials.urn in image.property_dependencies["registries"]


def test_the_deployment_runs_the_image_resources_ref(stack_plan):
    image = stack_plan.get(IMAGE)
    deployment = stack_plan.get(DEPLOYMENT, "loadgen-deployment")
    [container] = deployment.plain["spec"]["template"]["spec"]["containers"]
    assert container["image"] == stack_plan.outputs["loadgenImage"]
    assert re.fullmatch(re.escape(image.plain["tags"][0]) + r"@sha256:[0-9a-f]{64}", container["image"])
    assert image.urn in deployment.property_dependencies["spec"]  # a new build rolls the pods


def test_a_change_under_loadgen_is_a_new_tag_and_bytecode_is_not(tmp_path):
    shutil.copytree(REPO / "loadgen", tmp_path / "loadgen", ignore=shutil.ignore_patterns("__pycache__"))
    tag = content_tag(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{12}", tag)
    (tmp_path / "loadgen" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "loadgen" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert content_tag(tmp_path) == tag
    (tmp_path / "loadgen" / "static" / "app.js").write_text("// changed\n", encoding="utf-8")
    assert content_tag(tmp_path) != tag


def test_dockerignore_sends_exactly_what_the_tag_hashes():
    lines = (REPO / "loadgen" / "Dockerfile.dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[:2] == ["*", "!loadgen/"] and "loadgen/**/__pycache__" in ignore and "loadgen/**/*.pyc" in ignore


def test_registry_login_reads_the_docker_config():
    import base64, json
    auth = base64.b64encode(b"tok:tok").decode()
    assert registry_login(json.dumps({"auths": {"registry.digitalocean.com": {"auth": auth}}})) == ("tok", "tok")


def test_prebuilt_switch_skips_the_build_and_says_why():
    base = dict(stack_config("dev")["gtc-demo:loadgen"])
    prebuilt = "registry.digitalocean.com/do-solutions-sfo3/gtc-demo-loadgen:20261124-0000000"
    plan = evaluate("dev", overrides={
        "gtc-demo:loadgen": base | {"image": {"source": "prebuilt", "reason": "offline: no Docker engine"}},
        "gtc-demo:images": dict(stack_config("dev")["gtc-demo:images"]) | {"loadgen": prebuilt}})
    assert plan.by_type(IMAGE) == [] and plan.by_type(CREDENTIALS) == []
    assert plan.outputs["loadgenImage"] == prebuilt
    assert plan.outputs["loadgenImageSource"] == "prebuilt: offline: no Docker engine"
    [container] = plan.get(DEPLOYMENT, "loadgen-deployment").plain["spec"]["template"]["spec"]["containers"]
    assert container["image"] == prebuilt


def test_prebuilt_without_an_image_fails_at_preview_naming_the_key():
    base = dict(stack_config("dev")["gtc-demo:loadgen"])
    with pytest.raises(PlanError) as error:
        evaluate("dev", overrides={"gtc-demo:loadgen": base | {"image": {"source": "prebuilt"}}})
    assert "loadgen.image.source=prebuilt needs images.loadgen" in error.value.message
    assert error.value.registered == 0


def test_dockerfile_non_root_base_pinned_by_digest_starts_the_documented_service():
    text = DOCKERFILE.read_text()
    [base] = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    [user] = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) >= 10000
    entry = yaml.safe_load(re.search(r"^ENTRYPOINT\s+(.+)$", text, flags=re.M).group(1))
    cmd = yaml.safe_load(re.search(r"^CMD\s+(.+)$", text, flags=re.M).group(1))
    assert " ".join(entry + cmd) == "python -m loadgen serve"
    assert "python -m loadgen serve" in (REPO / "docs" / "architecture.md").read_text()  # moved from the README
