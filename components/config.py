"""The stack's typed configuration: read once from Pulumi config, validated before any resource exists.

Every key lives under the project namespace (`gtc-demo:<key>`); structured keys are YAML objects in
`Pulumi.<stack>.yaml`. A bad value fails `pulumi preview` with a `ConfigError` that names the key,
the value and what is allowed, before a single resource is registered.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Literal, Optional

import pulumi
from pulumi.runtime.config import get_config_env
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from serving import models as catalog
from serving.engine import FREE_GPU_MEMORY_FRACTION, KV_CACHE_DTYPE, MAX_BATCH_SIZE, MAX_NUM_TOKENS
from components.charts import EXACT_VERSION, ChartSource
from components.isolation import check_isolation

PROJECT = "gtc-demo"

# NVIDIA GPU Droplet slugs DOKS offers as node pool sizes, and the GPUs each node carries.
GPU_SLUGS: dict[str, int] = {
    "gpu-h100x1-80gb": 1,
    "gpu-h100x8-640gb": 8,
    "gpu-h200x1-141gb": 1,
    "gpu-h200x8-1128gb": 8,
    "gpu-h200x8-1128gb-contracted": 8,
    "gpu-l40sx1-48gb": 1,
    "gpu-6000adax1-48gb": 1,
    "gpu-4000adax1-20gb": 1,
}

# DigitalOcean regions that offer DOKS.
REGIONS = ("ams3", "atl1", "blr1", "fra1", "lon1", "nyc1", "nyc2", "nyc3", "sfo2", "sfo3", "sgp1", "syd1", "tor1")

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def dns_slug(name: str) -> str:
    """A DNS-label-safe form of a checkpoint name such as `org/Model-1.0`, for labels."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50]


class ConfigError(pulumi.RunError):
    """Raised for invalid stack configuration; Pulumi prints the message without a traceback."""


class _Model(BaseModel):
    """camelCase keys in YAML, snake_case in Python; unknown keys are errors, values immutable."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _one_of(value: str, allowed, what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
    return value


def _check_exact_version(value: str) -> str:
    if not EXACT_VERSION.match(value):
        raise ValueError(f"must be an exact version such as 1.2.3 (no ranges, no 'latest'), got {value!r}")
    return value


def _check_pinned_image(value: str) -> str:
    if _DIGEST.search(value):
        return value
    name, sep, tag = value.rpartition(":")
    if not sep or "/" in tag or not name:
        raise ValueError(f"must be pinned to a tag or digest (repo:tag or repo@sha256:...), got {value!r}")
    if tag == "latest":
        raise ValueError(f"must not use the mutable 'latest' tag, got {value!r}")
    return value


class Network(_Model):
    """VPC and DOKS pod/service ranges: three disjoint private CIDRs."""

    vpc_cidr: str = "10.110.0.0/20"
    cluster_subnet: str = "10.112.0.0/16"
    service_subnet: str = "10.113.0.0/16"

    @field_validator("vpc_cidr", "cluster_subnet", "service_subnet")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"must be an IPv4 network in CIDR form such as 10.110.0.0/20, got {value!r} ({exc})")
        if not net.is_private:
            raise ValueError(f"must be a private (RFC 1918) range, got {value!r}")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> "Network":
        named = {"vpcCidr": self.vpc_cidr, "clusterSubnet": self.cluster_subnet, "serviceSubnet": self.service_subnet}
        items = list(named.items())
        for i, (key_a, a) in enumerate(items):
            for key_b, b in items[i + 1 :]:
                if ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b)):
                    raise ValueError(f"{key_a}={a} overlaps {key_b}={b}: the three ranges must be disjoint")
        return self


class Maintenance(_Model):
    day: Literal["any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "sunday"
    start_time: str = Field("04:00", pattern=r"^([01]\d|2[0-3]):00$")


class ManagementPool(_Model):
    """CPU nodes for the platform, the frontends, the load generator and the model Jobs."""

    size: str = "s-2vcpu-4gb"
    min_nodes: int = Field(2, ge=1)
    max_nodes: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> "ManagementPool":
        if self.max_nodes < self.min_nodes:
            raise ValueError(f"maxNodes={self.max_nodes} is below minNodes={self.min_nodes}")
        return self


KUBECONFIG_AUTH = ("doctl-exec",)

# The broadest control-plane allowlist entry, per IP version (the policy pack's cluster_access.MIN_PREFIX).
ALLOWLIST_MIN_PREFIX = {4: 16, 6: 48}


def allowlist_size(cidrs: list[str]) -> int:
    """What an allowlist admits over the union of its entries: IPv4 addresses plus IPv6 /64s (one
    household or office each). The policy pack's cluster_access.allowlist_size counts the same way."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    total = 0
    for version, unit in ((4, 32), (6, 64)):
        for net in ipaddress.collapse_addresses(n for n in nets if n.version == version):
            total += 2 ** max(0, unit - net.prefixlen)
    return total


class Cluster(_Model):
    name: str = Field("gtc-demo", pattern=r"^[a-z][a-z0-9-]{0,62}$")
    kubernetes_version_prefix: str = Field("1.33.", pattern=r"^\d+\.\d+\.$")
    ha: bool = False
    control_plane_allowlist: list[str] = Field(default_factory=list)
    # The most the allowlist may admit in all (IPv4 addresses + IPv6 /64s, over the union of its entries):
    # 250 /16 entries pass the per-entry bound and admit 16.4 M addresses.
    control_plane_allowlist_max_addresses: int = Field(1024, ge=1, le=65536)
    maintenance: Maintenance = Maintenance()
    management_pool: ManagementPool = ManagementPool()
    # How the Kubernetes provider authenticates (docs/architecture.md, "Kubeconfig"): doctl asks for a
    # fresh, short-lived cluster credential on every call, so neither the state nor the kubeconfig output
    # holds a credential. `api-token` (the account token written into the kubeconfig) is refused.
    kubeconfig_auth: str = "doctl-exec"

    @field_validator("kubeconfig_auth")
    @classmethod
    def _kubeconfig_auth(cls, value: str) -> str:
        if value == "api-token":
            raise ValueError("would write the account-wide DigitalOcean token into the kubeconfig output and the "
                             "state; allowed: doctl-exec (a fresh cluster credential from doctl on every call)")
        return _one_of(value, KUBECONFIG_AUTH, "kubeconfig authentication")

    @field_validator("control_plane_allowlist")
    @classmethod
    def _allowlist(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"entries must be CIDRs such as 203.0.113.0/24, got {cidr!r}")
            if net.prefixlen < ALLOWLIST_MIN_PREFIX[net.version]:
                raise ValueError(f"{cidr!r} is broader than /{ALLOWLIST_MIN_PREFIX[net.version]} (0.0.0.0/1 and "
                                 "128.0.0.0/1 are the whole internet in two entries); list the operators' and the "
                                 "deploy runner's addresses")
        return value

    @model_validator(mode="after")
    def _allowlist_size(self) -> "Cluster":
        size = allowlist_size(self.control_plane_allowlist)
        if size > self.control_plane_allowlist_max_addresses:
            raise ValueError(f"controlPlaneAllowlist admits {size:,} addresses in all, more than "
                             f"controlPlaneAllowlistMaxAddresses={self.control_plane_allowlist_max_addresses:,}; "
                             "list the operators' and the deploy runner's addresses")
        return self


class GpuPool(_Model):
    slug: str
    count: int = Field(1, ge=1, le=8)

    @field_validator("slug")
    @classmethod
    def _known_slug(cls, value: str) -> str:
        return _one_of(value, sorted(GPU_SLUGS), "GPU droplet slug")

    @property
    def gpus_per_node(self) -> int:
        return GPU_SLUGS[self.slug]

    @property
    def total_gpus(self) -> int:
        return self.gpus_per_node * self.count


class Nfs(_Model):
    size_gib: int = Field(16000, ge=50)
    performance_tier: Literal["standard", "high"] = "high"


class Spaces(_Model):
    """The pre-existing bucket that caches model weights; only ever looked up."""

    bucket: str = "do-gtc2026-doks-demo"
    region: str = "atl1"
    # Create a Spaces key scoped to this one bucket instead of passing the account's keys.
    scoped_key: bool = True


class Engine(_Model):
    """TensorRT-LLM engine settings from seed 000 Group 1; rendered into the engine ConfigMap."""

    max_batch_size: int = Field(MAX_BATCH_SIZE, ge=1)
    max_num_tokens: int = Field(MAX_NUM_TOKENS, ge=256)
    free_gpu_memory_fraction: float = Field(FREE_GPU_MEMORY_FRACTION, gt=0.0, lt=1.0)
    enable_chunked_prefill: bool = True
    kv_cache_dtype: Literal["fp8", "auto"] = KV_CACHE_DTYPE
    enable_block_reuse: bool = True


SPECULATIVE_ROLES = {"draft-target": ("draft", "draft model"), "eagle3": ("eagle3-head", "EAGLE3 head")}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class Speculative(_Model):
    """Speculative decoding: phase 1 is `none`, phase 2 `draft-target` (a small Llama), phase 3 `eagle3` (a head).

    `model` is the Hugging Face repository of the draft or head; `revision` pins it to a commit, so the
    weights the pipeline fetches are content-addressed. See docs/speculative-decoding.md.
    """

    method: Literal["none", "draft-target", "eagle3"] = "none"
    model: Optional[str] = None
    revision: Optional[str] = None
    # Draft tokens per step. TensorRT-LLM needs > 0; past 8 the verify step costs more than acceptance returns
    # (calibration: verify k=5 already costs 1.4-1.8x a plain step, and a chain's k-th token is accepted with alpha^k).
    max_draft_len: int = Field(3, ge=1, le=8)

    @field_validator("revision")
    @classmethod
    def _commit(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _COMMIT.match(value):
            raise ValueError(f"must be a 40-character Hugging Face commit hash (content-addressed weights), got {value!r}")
        return value

    @property
    def enabled(self) -> bool:
        return self.method != "none"


class Model(_Model):
    name: str = "nvidia/Llama-3.1-70B-Instruct-FP8"
    replicas: int = Field(2, ge=1)
    tensor_parallel: int = Field(4, ge=1)
    engine: Engine = Engine()
    speculative: Speculative = Speculative()
    # How long `pulumi up` waits for the DynamoGraphDeployment to report Ready (a 70B load from NFS).
    ready_timeout_minutes: int = Field(90, ge=60, le=360)

    @model_validator(mode="after")
    def _speculative_matches_target(self) -> "Model":
        """A draft must speak the target's tokenizer; an EAGLE3 head must have been trained for the target."""
        spec = self.speculative
        if not spec.enabled:
            return self
        key = "model.speculative"
        target = catalog.card(self.name)
        if target is None:
            raise ValueError(
                f"{key}.method={spec.method!r} needs model.name in manifests/models.yaml to check the "
                f"{SPECULATIVE_ROLES[spec.method][1]} against it, but model.name={self.name!r} is not there; "
                f"allowed: {', '.join(catalog.names(role='target'))} (or add the checkpoint to manifests/models.yaml)")
        role, what = SPECULATIVE_ROLES[spec.method]
        if spec.method == "draft-target":
            allowed = catalog.names(role=role, tokenizer=target.tokenizer)
            hint = f"drafts with the {target.tokenizer} tokenizer of model.name={self.name!r}"
        else:
            allowed = catalog.names(role=role, base=target.base)
            hint = f"heads trained for {target.base} (model.name={self.name!r})"
        allowed_text = ", ".join(allowed) or f"none in manifests/models.yaml for {target.base}"
        if spec.model is None:
            raise ValueError(f"{key}.model is required when {key}.method={spec.method!r}; allowed: {allowed_text}")
        found = catalog.card(spec.model)
        if found is None or found.role != role:
            raise ValueError(f"{key}.model={spec.model!r} is not a known {what} (manifests/models.yaml); "
                             f"allowed ({hint}): {allowed_text}")
        if spec.method == "draft-target" and found.tokenizer != target.tokenizer:
            raise ValueError(
                f"{key}.model={spec.model!r} uses the {found.tokenizer} tokenizer, model.name={self.name!r} the "
                f"{target.tokenizer} tokenizer: a draft must share the target's tokenizer family; allowed: {allowed_text}")
        if spec.method == "eagle3" and found.base != target.base:
            raise ValueError(
                f"{key}.model={spec.model!r} is an EAGLE3 head trained for {found.base}, but model.name={self.name!r} "
                f"is {target.base}: a head only works on the target it was trained for; allowed: {allowed_text}; "
                f"for phase 3 set model.name to a checkpoint of {found.base} "
                f"({', '.join(n for n in catalog.names(role='target', base=found.base)) or 'add one to manifests/models.yaml'})")
        return self

    @property
    def slug(self) -> str:
        """A DNS-label-safe form of the model name, for Job names and labels."""
        return dns_slug(self.name)


class Router(_Model):
    """The KV frontend's router settings; None keeps Dynamo's default.

    The booth values (prefill load scale 4, temperature 0) come from the rehearsal's benchmark:
    they keep turn-2+ prefix hits at >= 95% of ideal at STEADY_STATE load (docs/rehearsal.md, "Router settings").
    """

    prefill_load_scale: Optional[float] = Field(None, gt=0.0)
    overlap_score_credit: Optional[float] = Field(None, ge=0.0)
    temperature: Optional[float] = Field(None, ge=0.0)
    extra_args: list[str] = Field(default_factory=list)


class Charts(_Model):
    """Where the Helm releases install from; chart names and versions are pinned in components/charts.py."""

    # `repository`: the chart repositories at the pinned versions. `vendored`: the archives in
    # vendor/charts (no network needed; what the tests render).
    source: ChartSource = "repository"


class Images(_Model):
    # `digest`: every image must be `name[:tag]@sha256:<64 hex>` (what a release records after testing the
    # exact images); `tag`: exact tags accepted. The pack's images-pinned-by-digest policy warns on tags and
    # refuses them for prod deploys (policy/enforce-digests.json, docs/security.md "Images").
    pinning: Literal["digest", "tag"] = "digest"
    dynamo_frontend: str
    trtllm_runtime: str
    # The load generator's prebuilt image; used only with loadgen.image.source: prebuilt.
    loadgen: Optional[str] = None
    model_tools: str = "python:3.11.11-slim"
    # Image for `workerBackend: mocker` workers; unset means the frontend image (it ships dynamo.mocker).
    mocker: Optional[str] = None

    @field_validator("dynamo_frontend", "trtllm_runtime", "loadgen", "model_tools", "mocker")
    @classmethod
    def _pinned(cls, value: Optional[str]) -> Optional[str]:
        return value if value is None else _check_pinned_image(value)

    @model_validator(mode="after")
    def _digests(self) -> "Images":
        if self.pinning == "digest":
            loose = [to_camel(name) for name in ("dynamo_frontend", "trtllm_runtime", "loadgen", "model_tools", "mocker")
                     if getattr(self, name) is not None and not _DIGEST.search(getattr(self, name))]
            if loose:
                raise ValueError(f"pinning=digest but {', '.join(loose)} carry no @sha256:<digest>; "
                                 "allowed: name[:tag]@sha256:<64 hex>, or set images.pinning: tag")
        return self


JOBS_LOCK = Path(__file__).resolve().parents[1] / "manifests" / "model-pipeline" / "requirements.lock"


def locked_version(package: str, lock: Path = JOBS_LOCK) -> Optional[str]:
    """The version a hashed requirements lock pins for `package` (normalised name), or None."""
    wanted = re.sub(r"[-_.]+", "-", package).lower()
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if match and re.sub(r"[-_.]+", "-", match.group(1)).lower() == wanted:
            return match.group(2)
    return None


class ModelPipelineSettings(_Model):
    """The two model-copy Jobs (HF -> Spaces -> NFS): how long each may run, how often it retries."""

    # Per Job: Kubernetes fails the Job after this (activeDeadlineSeconds); Pulumi waits 10 minutes longer.
    job_timeout_minutes: int = Field(90, ge=60, le=480)
    backoff_limit: int = Field(2, ge=0, le=6)
    # Pinned Python packages the Jobs install at start (the image is a plain python:slim).
    huggingface_hub_version: str = "0.36.0"
    boto3_version: str = "1.40.70"

    @field_validator("huggingface_hub_version", "boto3_version")
    @classmethod
    def _pinned(cls, value: str) -> str:
        return _check_exact_version(value)

    @model_validator(mode="after")
    def _matches_the_lock(self) -> "ModelPipelineSettings":
        """The Jobs install the hashed lock, so a version here that the lock does not pin would be a lie."""
        for key, package, version in (("huggingfaceHubVersion", "huggingface-hub", self.huggingface_hub_version),
                                      ("boto3Version", "boto3", self.boto3_version)):
            locked = locked_version(package)
            if locked != version:
                raise ValueError(f"{key}={version!r} but manifests/model-pipeline/requirements.lock pins {package}=={locked}; "
                                 "allowed: the locked version, or change it and regenerate the lock (`make locks`)")
        return self


class LoadgenImage(_Model):
    """Where the load generator's image comes from.

    `build` (default): `pulumi up` builds loadgen/ with BuildKit (pulumi-docker-build) and pushes it to
    the stack's DO container registry, tagged by the content of loadgen/. `prebuilt`: use
    `images.loadgen` as it is (operators without Docker, the offline `local` stack); `reason` says why,
    and `pulumi up` prints it.
    """

    source: Literal["build", "prebuilt"] = "build"
    repository: str = Field("gtc-demo-loadgen", pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
    platform: Literal["linux/amd64", "linux/arm64"] = "linux/amd64"
    reason: Optional[str] = None
    # Registry credentials the build uses; `pulumi up --refresh` renews them once expired.
    credentials_expiry_days: int = Field(30, ge=1, le=365)


class Loadgen(_Model):
    # Exactly one: the run state (arrival loop, auto mode, conversations) lives in the process, so with two
    # pods a Stop could land on the idle one while the other keeps sending load.
    replicas: int = Field(1, ge=1, le=1)
    followup_model: str = "llama3-8b-instruct"
    followup_url: str = "https://inference.do-ai.run/v1"
    image: LoadgenImage = LoadgenImage()


class VerificationSettings(_Model):
    """The in-cluster check that ends `pulumi up` (components/verification.py).

    `run: false` skips it, for a stack whose frontends cannot answer (the offline `local` stack's stand-in
    graph); `reason` is then required and becomes the `verification` stack output.
    """

    run: bool = True
    reason: Optional[str] = None

    @model_validator(mode="after")
    def _reason_when_skipped(self) -> "VerificationSettings":
        if not self.run and not self.reason:
            raise ValueError("verification.run=false needs verification.reason (why this stack is not verified)")
        return self


class ClusterSource(_Model):
    """Where the Kubernetes cluster comes from.

    `doks` (default): this stack creates the VPC, the DOKS cluster, its pools and the NFS share.
    `local`: an existing control plane reached through a kubeconfig on this machine (`python -m
    localcluster up`, what `make e2e` runs against): no DigitalOcean layer, and a host folder
    stands in for the NFS share of model weights.
    """

    kind: Literal["doks", "local"] = "doks"
    # local only: the kubeconfig file; unset means $KUBECONFIG.
    kubeconfig: Optional[str] = None
    # local only: host folder behind the model PersistentVolume (a hostPath in place of NFS).
    model_volume_path: str = Field("/var/lib/gtc-demo/models", pattern=r"^/[^\s]*$")

    @model_validator(mode="after")
    def _local_only(self) -> "ClusterSource":
        if self.kind == "doks" and self.kubeconfig is not None:
            raise ValueError(f"kubeconfig={self.kubeconfig!r} is only read when kind is 'local'; "
                             "allowed for kind 'doks': no kubeconfig (the stack makes the cluster)")
        return self

    @property
    def is_local(self) -> bool:
        return self.kind == "local"


class LetsEncrypt(_Model):
    email: str = Field(..., pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    staging: bool = False


class StackConfig(_Model):
    """Everything one stack needs, validated as a whole."""

    region: str
    domain: str = "digitalocean.solutions"
    hostname: str
    network: Network = Network()
    cluster: Cluster = Cluster()
    gpu_pool: GpuPool
    nfs: Nfs = Nfs()
    spaces: Spaces = Spaces()
    container_registry: str = "do-solutions-sfo3"
    model: Model = Model()
    model_pipeline: ModelPipelineSettings = ModelPipelineSettings()
    worker_backend: Literal["trtllm", "mocker"] = "trtllm"
    router: Router = Router()
    charts: Charts = Charts()
    images: Images
    loadgen: Loadgen = Loadgen()
    verification: VerificationSettings = VerificationSettings()
    lets_encrypt: LetsEncrypt
    cluster_source: ClusterSource = ClusterSource()

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _one_of(value, REGIONS, "region")

    @model_validator(mode="after")
    def _cross_checks(self) -> "StackConfig":
        host, domain = self.hostname.lower(), self.domain.lower().strip(".")
        if not host.endswith("." + domain):
            raise ValueError(
                f"hostname={self.hostname!r} is outside the managed domain {domain!r}; "
                f"allowed: a name under {domain} such as gtc-demo.{domain}"
            )
        if self.cluster_source.is_local and self.loadgen.image.source == "build":
            raise ValueError(
                "loadgen.image.source=build pushes to the DigitalOcean registry, which a stack with "
                "clusterSource.kind=local does not use; allowed: loadgen.image.source=prebuilt with a reason"
            )
        if self.loadgen.image.source == "prebuilt" and self.images.loadgen is None:
            raise ValueError(
                "loadgen.image.source=prebuilt needs images.loadgen (a pinned image reference such as "
                f"registry.digitalocean.com/{self.container_registry}/gtc-demo-loadgen:<tag>); "
                "allowed: set images.loadgen, or loadgen.image.source=build"
            )
        needed = self.model.replicas * self.model.tensor_parallel
        if self.worker_backend == "trtllm" and needed > self.gpu_pool.total_gpus:
            raise ValueError(
                f"model.replicas x model.tensorParallel = {self.model.replicas} x {self.model.tensor_parallel} = {needed} GPUs, "
                f"but gpuPool {self.gpu_pool.slug} x {self.gpu_pool.count} has {self.gpu_pool.total_gpus}; "
                f"allowed: at most {self.gpu_pool.total_gpus}"
            )
        if self.worker_backend == "trtllm" and self.model.tensor_parallel > self.gpu_pool.gpus_per_node:
            raise ValueError(
                f"model.tensorParallel={self.model.tensor_parallel} exceeds the {self.gpu_pool.gpus_per_node} GPUs "
                f"of one {self.gpu_pool.slug} node; allowed: at most {self.gpu_pool.gpus_per_node}"
            )
        if self.worker_backend == "trtllm":
            self._check_gpu_memory()
        return self

    def _check_gpu_memory(self) -> None:
        """Target + draft/head weights and the KV cache at the configured fraction must fit one GPU's share."""
        model, engine = self.model, self.model.engine
        target = catalog.card(model.name)
        if target is None:  # no facts to check against (speculative decoding already refused unknown targets)
            return
        spec = catalog.card(model.speculative.model) if model.speculative.enabled else None
        budget = catalog.memory_budget(
            self.gpu_pool.slug, model.tensor_parallel, target, spec, engine.kv_cache_dtype,
            engine.free_gpu_memory_fraction, engine.max_batch_size, engine.max_num_tokens)
        if budget.fits:
            return
        extra = (f" - {SPECULATIVE_ROLES[model.speculative.method][1]} {model.speculative.model} {budget.speculative_gib:.1f}"
                 if spec else "")
        raise ValueError(
            f"GPU memory: model.name={model.name!r} at model.tensorParallel={model.tensor_parallel} on {self.gpu_pool.slug}: "
            f"per GPU {budget.gpu_gib:.1f} GiB - target {budget.target_gib:.1f}{extra} - runtime reserve "
            f"{budget.reserve_gib:.1f} = {budget.free_gib:.1f} GiB; the KV cache gets "
            f"model.engine.freeGpuMemoryFraction={engine.free_gpu_memory_fraction} of it = {budget.kv_gib:.1f} GiB but needs "
            f"{budget.kv_needed_gib:.1f} GiB for maxBatchSize {engine.max_batch_size} x maxNumTokens {engine.max_num_tokens} "
            f"tokens; allowed: a budget that fits (smaller checkpoint or draft, larger tensorParallel or "
            f"freeGpuMemoryFraction, a GPU with more memory)")

    @property
    def uses_gpus(self) -> bool:
        return self.worker_backend == "trtllm"


class Secrets:
    """Secret config values, each a Pulumi secret Output; never plain strings."""

    def __init__(self, hf_token: Optional[pulumi.Output], gradient_api_key: pulumi.Output,
                 spaces_access_key_id: Optional[pulumi.Output], spaces_secret_access_key: Optional[pulumi.Output],
                 dns_token: pulumi.Output):
        # cert-manager and external-dns get only this DNS-scoped token; the account-wide one never enters the cluster.
        self.dns_token = dns_token
        self.hf_token = hf_token
        self.gradient_api_key = gradient_api_key
        self.spaces_access_key_id = spaces_access_key_id
        self.spaces_secret_access_key = spaces_secret_access_key


class Settings:
    """The validated config and the secrets of one stack: what `__main__` hands the components."""

    def __init__(self, stack: str, config: StackConfig, secrets: Secrets, kubeconfig: Optional[pulumi.Output] = None):
        self.stack = stack
        self.config = config
        self.secrets = secrets
        # clusterSource.kind local: the checked kubeconfig of the running local control plane (a secret).
        self.kubeconfig = kubeconfig


# Top-level keys this program reads (Pulumi has no API to list a namespace's keys).
_KEYS = tuple(to_camel(name) for name in StackConfig.model_fields)
_SECRET_KEYS = ("hfToken", "gradientApiKey", "spacesAccessKeyId", "spacesSecretAccessKey", "dnsToken")


def _check_no_unknown_keys(present: Iterable[str]) -> None:
    """A misspelt top-level key (`gtc-demo:gpupool`) would otherwise be ignored in favour of a default."""
    allowed = set(_KEYS) | set(_SECRET_KEYS)
    unknown = sorted(k for k in present if k.startswith(f"{PROJECT}:") and k.split(":", 1)[1] not in allowed)
    if unknown:
        raise ConfigError(
            "invalid stack configuration:\n" + "\n".join(f"  {key}: unknown key" for key in unknown)
            + f"\n  allowed keys under {PROJECT}: {', '.join(sorted(allowed))}"
        )


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        where = f"{PROJECT}:{key}" if key else PROJECT
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = f"is required but not set; set it with `pulumi config set {PROJECT}:{key} ...` or in Pulumi.<stack>.yaml"
            lines.append(f"  {where}: {message}")
            continue
        if isinstance(err.get("input"), dict):  # a check across keys: the message names them
            lines.append(f"  {where}: {message}")
        else:
            lines.append(f"  {where}={err.get('input')!r}: {message}")
    return "invalid stack configuration:\n" + "\n".join(lines)


PRODUCTION_STACKS = ("prod",)


def parse_config(raw: dict[str, Any], stack: Optional[str] = None) -> StackConfig:
    """Validate a plain dict of config values (camelCase keys) into a StackConfig, or raise ConfigError."""
    try:
        config = StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
    if stack in PRODUCTION_STACKS and not config.cluster.control_plane_allowlist:
        raise ConfigError(
            "invalid stack configuration:\n"
            f"  {PROJECT}:cluster.controlPlaneAllowlist=[]: stack {stack!r} must not leave the Kubernetes API open to the internet; "
            f"allowed: one or more CIDRs (operators, deploy runner), set with "
            f"`pulumi config set --path '{PROJECT}:cluster.controlPlaneAllowlist[0]' <address>/32`")
    if stack in PRODUCTION_STACKS:
        shared = check_isolation(stack, config, parse_config)
        if shared:
            raise ConfigError("invalid stack configuration:\n" + "\n".join(shared))
    return config


def _secret(cfg: pulumi.Config, key: str, namespace: str, required: bool, why: str) -> Optional[pulumi.Output]:
    value = cfg.get_secret(key)
    if value is None and required:
        raise ConfigError(
            f"missing required secret {namespace}:{key} ({why}); "
            f"set it with `pulumi config set --secret {namespace}:{key} <value>`"
        )
    return value


# The DigitalOcean provider's account credentials, and the environment variables it reads them from
# (upstream/digitalocean/provider.go). They come from the job's environment only: a stack's config is
# decrypted by anyone holding its passphrase, which every preview job holds.
ACCOUNT_CREDENTIALS = {
    "digitalocean:token": ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"),
    "digitalocean:spacesAccessId": ("SPACES_ACCESS_KEY_ID",),
    "digitalocean:spacesSecretKey": ("SPACES_SECRET_ACCESS_KEY",),
}


def _refuse_account_credentials_in_config(present: Iterable[str]) -> None:
    found = sorted(key for key in ACCOUNT_CREDENTIALS if key in present)
    if found:
        raise ConfigError(
            "invalid stack configuration:\n" + "\n".join(
                f"  {key}: an account credential in the stack's config, which every holder of the stack's "
                f"passphrase (PR preview jobs included) can decrypt; allowed: none here - remove it with "
                f"`pulumi config rm {key}` and set {' or '.join(ACCOUNT_CREDENTIALS[key])} in the deploy "
                f"environment (docs/security.md, \"Credentials by environment\")" for key in found))


def _require_account_credentials_in_env() -> None:
    """Without them the provider's first look-up fails with a message that names neither variable."""
    missing = [f"{' or '.join(envs)} (for {key})" for key, envs in ACCOUNT_CREDENTIALS.items()
               if not any(os.environ.get(env) for env in envs)]
    if missing:
        raise ConfigError(
            "missing DigitalOcean credentials in the environment: " + ", ".join(missing)
            + "; the deploy job sets them from its environment's secrets (a PR preview's read-scoped ones), "
            "a laptop exports them (docs/operations.md). They are never stack config.")


def _decode(value: str) -> Any:
    """Pulumi hands structured values over as JSON text and scalars as plain text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_settings() -> Settings:
    """Read and validate the current stack's config once; raises ConfigError before any resource is created."""
    # The language host hands the stack's whole config over as PULUMI_CONFIG; it is the only listing there is.
    present = get_config_env()
    _check_no_unknown_keys(present)
    _refuse_account_credentials_in_config(present)
    cfg = pulumi.Config(PROJECT)
    raw = {}
    for key in _KEYS:
        value = cfg.get(key)
        if value is not None:
            raw[key] = _decode(value)
    config = parse_config(raw, pulumi.get_stack())

    local = config.cluster_source.is_local
    kubeconfig = None
    if local:
        # Checked before any resource exists: a missing or wrong kubeconfig, or a control plane that
        # is not up, stops the run here with what to do.
        from components.kubeconfig import read_local_kubeconfig
        kubeconfig = pulumi.Output.secret(read_local_kubeconfig(config.cluster_source.kubeconfig))

    if not local:
        _require_account_credentials_in_env()
    secrets = Secrets(
        hf_token=_secret(cfg, "hfToken", PROJECT, config.uses_gpus, "Hugging Face token for the gated model download"),
        gradient_api_key=_secret(cfg, "gradientApiKey", PROJECT, True, "DO Serverless Inference key for follow-up questions"),
        spaces_access_key_id=_secret(cfg, "spacesAccessKeyId", PROJECT, not config.spaces.scoped_key,
                                     "Spaces key when spaces.scopedKey is false"),
        spaces_secret_access_key=_secret(cfg, "spacesSecretAccessKey", PROJECT, not config.spaces.scoped_key,
                                         "Spaces secret when spaces.scopedKey is false"),
        dns_token=_secret(cfg, "dnsToken", PROJECT, True,
                          "a DigitalOcean token with only the domain (DNS) scopes, for cert-manager and external-dns; "
                          "the deploy's account token is never written into the cluster; on a local stack any value"),
    )
    return Settings(pulumi.get_stack(), config, secrets, kubeconfig)
