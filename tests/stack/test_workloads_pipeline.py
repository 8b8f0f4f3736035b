"""The model pipeline: two idempotent Jobs on the management pool that never wait for the GPU pool or the charts."""

import hashlib
from pathlib import Path

import pytest
from kubernetes_validate import validate as k8s_validate
from plan import stack_config

JOB = "kubernetes:batch/v1:Job"
RELEASE = "kubernetes:helm.sh/v3:Release"
MODEL = "nvidia/Llama-3.1-70B-Instruct-FP8"
K8S_VERSION = "1.33.0"
SCRIPTS = Path(__file__).resolve().parents[2] / "manifests" / "model-pipeline"


def jobs(plan):
    return plan.get(JOB, "model-upload"), plan.get(JOB, "model-download")


def container(job):
    return job.plain["spec"]["template"]["spec"]["containers"][0]


def env_refs(job):
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(job)["env"] if "valueFrom" in e}


def test_job_names_carry_a_hash_of_the_model(stack_plan):
    suffix = hashlib.sha256(MODEL.encode()).hexdigest()[:8]
    upload, download = jobs(stack_plan)
    assert upload.plain["metadata"]["name"] == f"model-upload-spaces-{suffix}"
    assert download.plain["metadata"]["name"] == f"model-download-nfs-{suffix}"
    for job in (upload, download):
        assert job.plain["metadata"]["namespace"] == "dynamo-workload"


def test_changing_the_model_creates_new_jobs(dev_plan):
    from plan import evaluate
    other = evaluate("dev", overrides={"gtc-demo:model": {"name": "meta-llama/Llama-3.1-8B-Instruct",
                                                          "replicas": 2, "tensorParallel": 4}})
    before = {j.plain["metadata"]["name"] for j in jobs(dev_plan)}
    after = {j.plain["metadata"]["name"] for j in jobs(other)}
    assert before.isdisjoint(after)
    upload = other.get(JOB, "model-upload")
    assert "meta-llama/Llama-3.1-8B-Instruct" in container(upload)["command"]


def test_jobs_run_the_scripts_from_a_config_map(stack_plan):
    scripts = stack_plan.get("kubernetes:core/v1:ConfigMap", "model-scripts")
    assert scripts.plain["data"]["model_sync.py"] == (SCRIPTS / "model_sync.py").read_text()
    assert scripts.plain["data"]["run.sh"] == (SCRIPTS / "run.sh").read_text()
    for job, step in zip(jobs(stack_plan), ("upload", "download")):
        command = container(job)["command"]
        assert command[:3] == ["sh", "/scripts/run.sh", step]
        assert command[command.index("--model") + 1] == MODEL
        spaces = stack_config(stack_plan.stack)["gtc-demo:spaces"]
        assert command[command.index("--bucket") + 1] == spaces["bucket"]
        assert command[command.index("--endpoint") + 1] == f"https://{spaces['region']}.digitaloceanspaces.com"
        volumes = {v["name"]: v for v in job.plain["spec"]["template"]["spec"]["volumes"]}
        assert volumes["scripts"]["configMap"]["name"] == "model-pipeline-scripts"


def test_jobs_on_the_management_pool_without_gpus(stack_plan):
    for job in jobs(stack_plan):
        pod = job.plain["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"gtc-demo/pool": "management"}
        assert "tolerations" not in pod
        assert "runtimeClassName" not in pod
        assert "nvidia.com/gpu" not in str(container(job)["resources"])
        assert pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False


def test_secrets_come_from_the_platform_secrets(stack_plan):
    upload, download = jobs(stack_plan)
    assert env_refs(upload) == {
        "SPACES_ACCESS_KEY_ID": {"name": "spaces-credentials", "key": "SPACES_ACCESS_KEY_ID"},
        "SPACES_SECRET_ACCESS_KEY": {"name": "spaces-credentials", "key": "SPACES_SECRET_ACCESS_KEY"},
        "HF_TOKEN": {"name": "hf-token", "key": "HF_TOKEN", "optional": True},
    }
    # The download only reads the bucket: the read-only key's Secret (issue 16); the (read-only) HF token
    # reads the hashes every file is checked against (issue 27).
    assert env_refs(download) == {
        "SPACES_ACCESS_KEY_ID": {"name": "spaces-credentials-read", "key": "SPACES_ACCESS_KEY_ID"},
        "SPACES_SECRET_ACCESS_KEY": {"name": "spaces-credentials-read", "key": "SPACES_SECRET_ACCESS_KEY"},
        "HF_TOKEN": {"name": "hf-token", "key": "HF_TOKEN", "optional": True},
    }
    for job in (upload, download):
        assert not any("value" in e and "TOKEN" in e["name"] for e in container(job)["env"])


def test_download_mounts_the_model_claim(stack_plan):
    _, download = jobs(stack_plan)
    pod = download.plain["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "model-nfs-pvc"}
    assert {"name": "models", "mountPath": "/models"} in container(download)["volumeMounts"]


def test_image_from_config_and_pinned_pip_packages(stack_plan):
    for job in jobs(stack_plan):
        assert container(job)["image"] == "python:3.11.11-slim"
        values = {e["name"]: e.get("value") for e in container(job)["env"]}
        assert values["HUGGINGFACE_HUB_VERSION"].count(".") == 2
        assert values["BOTO3_VERSION"].count(".") == 2


def test_timeouts_fit_a_70_gb_model_and_failures_surface(stack_plan):
    for job in jobs(stack_plan):
        spec = job.plain["spec"]
        assert spec["backoffLimit"] <= 3
        assert spec["activeDeadlineSeconds"] >= 3600
        timeouts = job.options["customTimeouts"]
        assert int(timeouts["create"].rstrip("m")) >= 60
        # Kubernetes gives up first, so `pulumi up` reports the Job's DeadlineExceeded reason.
        assert int(timeouts["create"].rstrip("m")) * 60 > spec["activeDeadlineSeconds"]
        # A finished Job is kept: TTL deletion would show up as drift and re-create it on the next up.
        assert "ttlSecondsAfterFinished" not in spec
        assert job.plain["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"
        assert job.options["deleteBeforeReplace"] is True


def test_download_runs_after_upload(stack_plan):
    upload, download = jobs(stack_plan)
    assert upload.urn in download.explicit_dependencies
    assert not stack_plan.depends_on(upload, download)


@pytest.mark.parametrize("target_type,target_name", [
    ("digitalocean:index/kubernetesNodePool:KubernetesNodePool", "infra-gpu-pool"),
    (RELEASE, "platform-dynamo-platform"),
    (RELEASE, "platform-kube-prometheus-stack"),
    (RELEASE, "platform-dcgm-exporter"),
    (RELEASE, "platform-cert-manager"),
    (RELEASE, "platform-external-dns"),
])
def test_pipeline_does_not_wait_for_the_gpu_pool_or_the_charts(stack_plan, target_type, target_name):
    target = stack_plan.get(target_type, target_name)
    for job in jobs(stack_plan):
        assert not stack_plan.depends_on(job, target), f"{job.name} waits for {target_name}"


def test_pipeline_runs_on_the_cluster_through_the_stack_provider(stack_plan):
    provider = stack_plan.get("pulumi:providers:kubernetes", "infra-k8s")
    cluster = stack_plan.get("digitalocean:index/kubernetesCluster:KubernetesCluster", "infra-cluster")
    assert stack_plan.depends_on(provider, cluster)
    for job in jobs(stack_plan):
        assert job.provider.startswith(provider.urn + "::"), job.provider


@pytest.mark.parametrize("target_type,target_name", [
    ("kubernetes:core/v1:Namespace", "platform-ns-dynamo-workload"),
])
def test_pipeline_waits_for_what_it_uses(stack_plan, target_type, target_name):
    for job in jobs(stack_plan):
        assert stack_plan.depends_on(job, stack_plan.get(target_type, target_name)), job.name
    upload, download = jobs(stack_plan)
    secret = "kubernetes:core/v1:Secret"
    assert stack_plan.depends_on(upload, stack_plan.get(secret, "platform-secret-dynamo-workload-spaces-credentials"))
    assert stack_plan.depends_on(download, stack_plan.get(secret, "platform-secret-dynamo-workload-spaces-credentials-read"))
    assert stack_plan.depends_on(upload, stack_plan.get("kubernetes:core/v1:Secret",
                                                        "platform-secret-dynamo-workload-hf-token"))
    assert stack_plan.depends_on(download, stack_plan.get("kubernetes:core/v1:PersistentVolumeClaim",
                                                          "platform-model-nfs-pvc"))


def test_jobs_are_valid_kubernetes_objects(stack_plan):
    for job in jobs(stack_plan):
        k8s_validate(job.plain, K8S_VERSION, strict=True)
    k8s_validate(stack_plan.get("kubernetes:core/v1:ConfigMap", "model-scripts").plain, K8S_VERSION, strict=True)


def test_mocker_skips_the_pipeline_entirely(mocker_plan):
    assert [j.name for j in mocker_plan.by_type(JOB)] == ["verification-job"]  # no pipeline Job, only the check
    assert mocker_plan.find("gtc-demo:model:ModelPipeline") is None


def sync_module_with_marker(tmp_path, content: str):
    """manifests/model-pipeline/model_sync.py loaded as a module, with a download marker on a fake share."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("model_sync", SCRIPTS / "model_sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    marker = tmp_path / MODEL / module.DOWNLOAD_MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text(content)
    return module


def test_sync_script_skips_when_markers_exist(tmp_path, monkeypatch):
    """The download step is a no-op when its marker is on the share (no S3 call at all)."""
    module = sync_module_with_marker(tmp_path, "{}")
    monkeypatch.setattr(module, "_s3", lambda *a: pytest.fail("must not reach Spaces when the marker exists"))
    assert module.main(["download", "--model", MODEL, "--bucket", "b", "--endpoint", "https://x",
                        "--region", "atl1", "--target", str(tmp_path)]) == 0


def test_sync_script_copies_again_when_the_marker_holds_another_revision(tmp_path, monkeypatch):
    """With --revision, a marker of another commit is not "done": the step goes back to Spaces."""
    module = sync_module_with_marker(tmp_path, '{"revision": "' + "a" * 40 + '"}')

    class Reached(Exception):
        pass

    def no_spaces(*args):
        raise Reached
    monkeypatch.setattr(module, "_s3", no_spaces)
    argv = ["download", "--model", MODEL, "--bucket", "b", "--endpoint", "https://x", "--region", "atl1",
            "--target", str(tmp_path)]
    assert module.main(argv + ["--revision", "a" * 40]) == 0
    with pytest.raises(Reached):
        module.main(argv + ["--revision", "b" * 40])


# -- the download Job serves only what Hugging Face published (issue 27) -----------------------------

class FakeBucket:
    """The S3 calls the download step makes (sizes go through module._size), on a dict of key -> bytes."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def get_object(self, Bucket, Key):
        import io
        return {"Body": io.BytesIO(self.objects[Key])}

    def download_file(self, bucket, key, filename, Config=None):
        Path(filename).write_bytes(self.objects[key])


PUBLISHED = {"config.json": b'{"architectures": ["LlamaForCausalLM"]}',
             "model-00001-of-00002.safetensors": b"\x01" * 4096,
             "model-00002-of-00002.safetensors": b"\x02" * 2048}
LFS = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
REVISION = "c" * 40


def published_info():
    """What HfApi.model_info(files_metadata=True) returns: LFS files with SHA-256, the rest with a git blob id."""
    from huggingface_hub.hf_api import BlobLfsInfo, RepoSibling
    siblings = []
    for name, data in PUBLISHED.items():
        blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
        lfs = BlobLfsInfo(size=len(data), sha256=hashlib.sha256(data).hexdigest(), pointer_size=134) if name in LFS else None
        siblings.append(RepoSibling(rfilename=name, size=len(data), blob_id=blob, lfs=lfs))

    class Info:
        sha = REVISION
    Info.siblings = siblings
    return Info


def run_download(tmp_path, monkeypatch, bucket_files: dict[str, bytes]):
    import importlib.util
    import json
    import huggingface_hub
    spec = importlib.util.spec_from_file_location("model_sync", SCRIPTS / "model_sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    prefix = f"models/{MODEL}/"
    manifest = {"model": MODEL, "revision": REVISION, "files": {n: len(d) for n, d in bucket_files.items()}}
    objects = {prefix + n: d for n, d in bucket_files.items()}
    objects[prefix + module.UPLOAD_MARKER] = json.dumps(manifest).encode()
    asked = []

    class FakeHfApi:
        def __init__(self, token=None):
            pass

        def model_info(self, repo_id, revision=None, files_metadata=False):
            asked.append((repo_id, revision, files_metadata))
            return published_info()
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setattr(module, "_s3", lambda *a: FakeBucket(objects))
    monkeypatch.setattr(module, "_transfer", lambda: None)
    monkeypatch.setattr(module, "_size", lambda s3, bucket, key: len(objects[key]) if key in objects else None)
    code = module.main(["download", "--model", MODEL, "--bucket", "b", "--endpoint", "https://x", "--region", "atl1",
                        "--target", str(tmp_path)])
    assert asked == [(MODEL, REVISION, True)], "the hashes come from Hugging Face at the manifest's revision"
    return code, tmp_path / MODEL, module


def test_download_places_files_only_after_their_published_hash_matched(tmp_path, monkeypatch, capsys):
    code, root, module = run_download(tmp_path, monkeypatch, dict(PUBLISHED))
    assert code == 0
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.name != module.DOWNLOAD_MARKER} == PUBLISHED
    marker = (root / module.DOWNLOAD_MARKER).read_text()
    assert hashlib.sha256(PUBLISHED["model-00001-of-00002.safetensors"]).hexdigest() in marker


@pytest.mark.parametrize("name,planted", [
    ("model-00002-of-00002.safetensors", b"\x03" * 2048),   # an LFS file, same size (the old size check passed it)
    ("model-00001-of-00002.safetensors", b"\x01" * 4095 + b"\x00"),  # one byte changed
    ("config.json", b'{"architectures": ["EvilaForCausalLM"]}'),  # a small, non-LFS file, same size
])
def test_download_refuses_a_file_that_is_not_the_published_one(tmp_path, monkeypatch, capsys, name, planted):
    files = dict(PUBLISHED)
    files[name] = planted
    code, root, module = run_download(tmp_path, monkeypatch, files)
    err = capsys.readouterr().err
    assert code == 3
    assert name in err and "is not the" in err and "Hugging Face publishes" in err, err
    assert not (root / name).exists() and not list(root.glob("*.partial")), "nothing of the planted file stays"
    assert not (root / module.DOWNLOAD_MARKER).exists(), "no marker: the next run checks again"


def test_download_ignores_files_hugging_face_does_not_list(tmp_path, monkeypatch, capsys):
    """A planted extra file (custom code for trust_remote_code, say) is never copied to the share."""
    code, root, _module = run_download(tmp_path, monkeypatch, {**PUBLISHED, "modeling_llama.py": b"import os"})
    assert code == 0
    assert not (root / "modeling_llama.py").exists()
    assert "not copied" in capsys.readouterr().out
