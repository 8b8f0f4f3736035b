"""The model pipeline: two Jobs that copy the weights Hugging Face -> Spaces -> NFS before the workers start.

Spaces is the durable cache (the bucket outlives every cluster), NFS is what the workers mount. Both
Jobs are idempotent (completion markers, see manifests/model-pipeline/model_sync.py) and run on the
management pool, so the download proceeds while the GPU node is still booting: they depend only on
the cluster (through the provider), the namespace, the Secrets and the PVC, never on the GPU pool or
the Helm releases.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig, dns_slug
from components.infra import POOL_LABEL
from components.k8s_common import PART_OF, PIPELINE_SELECTOR, restricted_security_context, secret_env
from components.platform import (
    HF_TOKEN_KEY,
    HF_TOKEN_SECRET,
    MODEL_PVC,
    SPACES_ID_KEY,
    SPACES_KEY_KEY,
    SPACES_READ_SECRET,
    SPACES_SECRET,
    Platform,
)

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "manifests" / "model-pipeline"
SCRIPTS_MOUNT = "/scripts"
MODELS_MOUNT = "/models"
# Pulumi waits this much longer than the Job's own deadline, so a stuck copy fails as the Job's
# `DeadlineExceeded` (a reason `pulumi up` prints) rather than as a bare Pulumi timeout.
PULUMI_GRACE_MINUTES = 10
JOB_USER = 10001


def model_hash(model_name: str, revision: Optional[str] = None) -> str:
    """Short, stable hash of the checkpoint (name, and commit when pinned): part of each Job's name,
    so other weights mean new Jobs and the same weights the same, already-completed Jobs."""
    key = model_name if revision is None else f"{model_name}@{revision}"
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def spaces_endpoint(region: str) -> str:
    return f"https://{region}.digitaloceanspaces.com"


@dataclass
class ModelPipelineArgs:
    config: StackConfig
    platform: Platform


class ModelPipeline(pulumi.ComponentResource):
    """Job `upload` (HF -> Spaces `models/<model>/`) then Job `download` (Spaces -> NFS `/models/<model>/`),
    for the target and, with speculative decoding, for the draft model or EAGLE3 head beside it.

    The draft/head pair has its own resource names, so turning speculative decoding on, off or to
    another method leaves the target's Jobs (and its 70 GB on NFS) untouched.
    """

    def __init__(self, name: str, args: ModelPipelineArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:model:ModelPipeline", name, None, opts)
        cfg, platform = args.config, args.platform
        self._cfg = cfg
        self._platform = platform
        self._namespace = platform.namespaces["dynamo-workload"].metadata.name

        self.scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="model-pipeline-scripts", namespace=self._namespace,
                                                labels=self._labels(cfg.model.slug)),
            data={path.name: path.read_text() for path in sorted(SCRIPTS_DIR.iterdir()) if path.is_file()},
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.upload_job, self.download_job = self._copy(name, cfg.model.name, None, cfg.model.slug)
        self.model_path = f"{MODELS_MOUNT}/{cfg.model.name}"
        outputs = {
            "uploadJob": self.upload_job.metadata.name,
            "downloadJob": self.download_job.metadata.name,
            "modelPath": self.model_path,
        }
        spec = cfg.model.speculative
        self.speculative_jobs: tuple[k8s.batch.v1.Job, ...] = ()
        self.speculative_path: Optional[str] = None
        if spec.enabled:
            self.speculative_jobs = self._copy(f"{name}-speculative", spec.model, spec.revision, dns_slug(spec.model))
            self.speculative_path = f"{MODELS_MOUNT}/{spec.model}"
            outputs.update(speculativeUploadJob=self.speculative_jobs[0].metadata.name,
                           speculativeDownloadJob=self.speculative_jobs[1].metadata.name,
                           speculativePath=self.speculative_path)
        self.register_outputs(outputs)

    @property
    def last_job(self) -> k8s.batch.v1.Job:
        """The target's download Job: once it completed, the target's weights are on NFS."""
        return self.download_job

    @property
    def weights_ready(self) -> list[k8s.batch.v1.Job]:
        """What the workers wait for: every download Job (target, and draft or head)."""
        return [self.download_job, *self.speculative_jobs[1:]]

    def _copy(self, name: str, model: str, revision: Optional[str], slug: str) -> tuple[k8s.batch.v1.Job, k8s.batch.v1.Job]:
        """The upload + download pair for one checkpoint, named by its content hash."""
        platform, namespace = self._platform, self._namespace
        suffix = model_hash(model, revision)
        spaces_secret = platform.secrets[SPACES_SECRET]
        upload_needs = [spaces_secret, self.scripts]
        if HF_TOKEN_SECRET in platform.secrets:
            upload_needs.append(platform.secrets[HF_TOKEN_SECRET])
        checkpoint = ["--model", model, *(["--revision", revision] if revision else [])]
        upload = self._job(
            f"{name}-upload", f"model-upload-spaces-{suffix}", namespace, "upload", checkpoint, slug,
            env=self._spaces_env() + self._hf_env(), volumes=[], mounts=[],
            depends_on=upload_needs,
        )
        read_secret = platform.secrets[SPACES_READ_SECRET]
        download_needs = [upload, platform.model_pvc, read_secret, self.scripts]
        if HF_TOKEN_SECRET in platform.secrets:
            download_needs.append(platform.secrets[HF_TOKEN_SECRET])
        download = self._job(
            f"{name}-download", f"model-download-nfs-{suffix}", namespace, "download", checkpoint, slug,
            # Only reads the bucket (the read-only key), and checks every file against the hashes Hugging Face
            # publishes (the token reads them for a gated model), so whatever else can write the bucket
            # cannot get a file served.
            env=self._spaces_env(SPACES_READ_SECRET) + self._hf_env(),
            volumes=[k8s.core.v1.VolumeArgs(
                name="models",
                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=MODEL_PVC))],
            mounts=[k8s.core.v1.VolumeMountArgs(name="models", mount_path=MODELS_MOUNT)],
            depends_on=download_needs,
        )
        return upload, download

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _labels(slug: str) -> dict[str, str]:
        return {**PART_OF, **PIPELINE_SELECTOR, "gtc-demo/model": slug}

    def _spaces_env(self, secret: str = SPACES_SECRET) -> list[k8s.core.v1.EnvVarArgs]:
        return [secret_env(SPACES_ID_KEY, secret, SPACES_ID_KEY),
                secret_env(SPACES_KEY_KEY, secret, SPACES_KEY_KEY)]

    def _hf_env(self) -> list[k8s.core.v1.EnvVarArgs]:
        # Optional: public models download without a token.
        return [secret_env("HF_TOKEN", HF_TOKEN_SECRET, HF_TOKEN_KEY, optional=True)]

    def _job(self, resource_name: str, job_name: str, namespace: pulumi.Input[str], step: str,
             checkpoint: list[str], slug: str, env: list[k8s.core.v1.EnvVarArgs], volumes: list[k8s.core.v1.VolumeArgs],
             mounts: list[k8s.core.v1.VolumeMountArgs], depends_on: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        cfg = self._cfg
        pipeline = cfg.model_pipeline
        deadline_minutes = pipeline.job_timeout_minutes
        wait = f"{deadline_minutes + PULUMI_GRACE_MINUTES}m"
        args = ["sh", f"{SCRIPTS_MOUNT}/run.sh", step, *checkpoint,
                "--bucket", cfg.spaces.bucket,
                "--endpoint", spaces_endpoint(cfg.spaces.region),
                "--region", cfg.spaces.region,
                "--target", MODELS_MOUNT]
        versions = [k8s.core.v1.EnvVarArgs(name="HUGGINGFACE_HUB_VERSION", value=pipeline.huggingface_hub_version),
                    k8s.core.v1.EnvVarArgs(name="BOTO3_VERSION", value=pipeline.boto3_version),
                    k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),
                    k8s.core.v1.EnvVarArgs(name="PYTHONUNBUFFERED", value="1")]
        return k8s.batch.v1.Job(
            resource_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=job_name,
                namespace=namespace,
                labels=self._labels(slug),
                annotations={
                    # A Job that failed (bad token, deadline) is replaced on the next `pulumi up`
                    # instead of Pulumi waiting again on the dead one.
                    "pulumi.com/replaceUnready": "true",
                },
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=pipeline.backoff_limit,
                active_deadline_seconds=deadline_minutes * 60,
                # No ttl_seconds_after_finished, on purpose: Kubernetes would delete the finished
                # Job, `pulumi refresh` would then see it gone and the next `pulumi up` would create
                # it again (a new pod, a new wait) - and without a refresh the state would point at
                # an object that no longer exists. A completed Job costs nothing and keeps its logs.
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels(slug)),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="Never",
                        automount_service_account_token=False,
                        # python:slim runs as root by default; the Jobs need no root (HOME and deps in /tmp).
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=JOB_USER, run_as_group=JOB_USER,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                        node_selector={POOL_LABEL: "management"},
                        containers=[k8s.core.v1.ContainerArgs(
                            name=step,
                            image=cfg.images.model_tools,
                            command=args,
                            env=versions + env,
                            resources=k8s.core.v1.ResourceRequirementsArgs(
                                requests={"cpu": "250m", "memory": "512Mi"},
                                limits={"cpu": "1", "memory": "1536Mi"},
                            ),
                            security_context=restricted_security_context(),
                            volume_mounts=[
                                k8s.core.v1.VolumeMountArgs(name="scripts", mount_path=SCRIPTS_MOUNT, read_only=True),
                                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                                *mounts,
                            ],
                        )],
                        volumes=[
                            k8s.core.v1.VolumeArgs(name="scripts", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                name=self.scripts.metadata.name)),
                            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                size_limit="2Gi")),
                            *volumes,
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=depends_on,
                delete_before_replace=True,  # fixed name: the old Job must go before the new one
                custom_timeouts=pulumi.CustomTimeouts(create=wait, update=wait),
            ),
        )

