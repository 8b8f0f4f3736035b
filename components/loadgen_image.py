"""The load generator's container image, built and pushed by `pulumi up` (or a prebuilt reference).

`build`: pulumi-docker-build runs BuildKit on loadgen/Dockerfile (context: the repository root, the
Dockerfile's .dockerignore sends only loadgen/) and pushes to the stack's DigitalOcean container
registry, with write credentials from a `ContainerRegistryDockerCredentials` resource (a Pulumi
secret; `pulumi destroy` revokes them). The tag is a hash of everything the build copies, so a
change under loadgen/ is a new tag in `pulumi preview`, and the Deployment runs `ref`
(`<tag>@sha256:<digest>`), so it rolls exactly when the image changed. Preview does not build
(`build_on_preview: false`): PR review needs no Docker engine.

`prebuilt`: `images.loadgen` as configured, with the configured reason logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_digitalocean as do
import pulumi_docker_build as docker_build

from components.config import StackConfig

REPO = Path(__file__).resolve().parents[1]
REGISTRY_HOST = "registry.digitalocean.com"
# Relative to the project directory (where `pulumi` runs the program), so the inputs are the same on
# every machine and a checkout elsewhere does not look like a change. CI builds with the same values.
BUILD_CONTEXT, BUILD_DOCKERFILE = ".", "loadgen/Dockerfile"
# What the build context holds (loadgen/Dockerfile.dockerignore): loadgen/ without bytecode caches.
_SKIPPED_PARTS = {"__pycache__"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def content_tag(root: Path = REPO) -> str:
    """12 hex digits of SHA-256 over the path and bytes of every file the image build copies."""
    digest = hashlib.sha256()
    for path in sorted((root / "loadgen").rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or _SKIPPED_PARTS & set(relative.parts) or path.suffix in _SKIPPED_SUFFIXES:
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def registry_login(docker_config_json: str) -> tuple[str, str]:
    """(username, password) from the registry's Docker config JSON (DigitalOcean uses its token for both)."""
    auth = json.loads(docker_config_json)["auths"][REGISTRY_HOST]["auth"]
    username, _, password = base64.b64decode(auth).decode().partition(":")
    return username, password


@dataclass
class LoadgenImageArgs:
    config: StackConfig


class LoadgenImage(pulumi.ComponentResource):
    """`ref`: the image reference the load generator and the verification Job run."""

    def __init__(self, name: str, args: LoadgenImageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:loadgen:LoadgenImage", name, None, opts)
        cfg = args.config
        spec = cfg.loadgen.image
        self.image: Optional[docker_build.Image] = None
        self.credentials: Optional[do.ContainerRegistryDockerCredentials] = None
        if spec.source == "prebuilt":
            reason = spec.reason or "loadgen.image.source is prebuilt"
            pulumi.log.info(f"load generator image: not built ({reason}); using images.loadgen {cfg.images.loadgen}",
                            resource=self)
            self.ref: pulumi.Output[str] = pulumi.Output.from_input(cfg.images.loadgen)
            self.source = f"prebuilt: {reason}"
        else:
            if cfg.images.loadgen is not None:
                pulumi.log.warn("images.loadgen is ignored: loadgen.image.source is build", resource=self)
            self.credentials = do.ContainerRegistryDockerCredentials(
                f"{name}-registry-credentials",
                registry_name=cfg.container_registry,
                write=True,
                expiry_seconds=spec.credentials_expiry_days * 86400,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["docker_credentials"]),
            )
            login = self.credentials.docker_credentials.apply(registry_login)
            repository = f"{REGISTRY_HOST}/{cfg.container_registry}/{spec.repository}"
            self.tag = f"{repository}:{content_tag()}"
            self.image = docker_build.Image(
                f"{name}-image",
                context=docker_build.BuildContextArgs(location=BUILD_CONTEXT),
                dockerfile=docker_build.DockerfileArgs(location=BUILD_DOCKERFILE),
                platforms=[docker_build.Platform(spec.platform)],
                tags=[self.tag],
                push=True,
                build_on_preview=False,
                registries=[docker_build.RegistryArgs(
                    address=REGISTRY_HOST,
                    username=pulumi.Output.secret(login.apply(lambda pair: pair[0])),
                    password=pulumi.Output.secret(login.apply(lambda pair: pair[1])),
                )],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.ref = self.image.ref
            self.source = f"built from loadgen/ as {self.tag}"
        self.register_outputs({"ref": self.ref, "source": self.source})
