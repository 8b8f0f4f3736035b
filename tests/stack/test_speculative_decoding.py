"""Phases 2 and 3 as stack config: the engine config, the pipeline Jobs and the DGD under the mock plan harness.

The acceptance check of issue 12: `prod` with model.name a Llama 3.3 70B Instruct checkpoint and
model.speculative = {method: eagle3, model: <head>, maxDraftLen: 3} yields an engine config whose
speculative_config parses under the pinned TensorRT-LLM schema (decoding_type Eagle3, max_draft_len 3,
the head under the model mount) and a pipeline Job pair that fetches the head; a draft from another
tokenizer family fails before any resource is registered.
"""

import copy

import pytest
import yaml
from pydantic import ValidationError

from plan import PlanError, evaluate, stack_config
from dgd_view import components, dgd, main_container
from test_repeatable_changes import touched
from trtllm_speculative_schema import EngineArgs

JOB = "kubernetes:batch/v1:Job"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
TARGET_33 = "nvidia/Llama-3.3-70B-Instruct-FP8"
HEAD = "yuhuili/EAGLE3-LLaMA3.3-Instruct-70B"
DRAFT = "meta-llama/Llama-3.1-8B-Instruct"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def model_override(stack: str, name=None, **speculative) -> dict:
    """The stack file's `gtc-demo:model` with model.speculative (and optionally model.name) set."""
    model = copy.deepcopy(stack_config(stack)["gtc-demo:model"])
    if name:
        model["name"] = name
    model["speculative"] = speculative
    return {"gtc-demo:model": model}


def engine_args(plan) -> dict:
    config_map = plan.get(CONFIG_MAP, "inference-engine-config")
    return yaml.safe_load(config_map.plain["data"]["engine.yaml"])


def worker(plan) -> dict:
    return components(plan)["TrtllmWorker"]


def worker_args(plan) -> list:
    return main_container(worker(plan))["args"]


def model_mount(plan) -> str:
    return next(m["mountPath"] for m in main_container(worker(plan))["volumeMounts"] if m["name"] == "model-nfs-pvc")


def job_command(job) -> list:
    return job.plain["spec"]["template"]["spec"]["containers"][0]["command"]


@pytest.fixture(scope="module")
def eagle3_prod():
    return evaluate("prod", overrides=model_override("prod", name=TARGET_33, method="eagle3", model=HEAD, maxDraftLen=3))


@pytest.fixture(scope="module")
def draft_dev():
    return evaluate("dev", overrides=model_override("dev", method="draft-target", model=DRAFT, maxDraftLen=3,
                                                    revision=REVISION))


# -- the acceptance check -------------------------------------------------------------------------

def test_prod_eagle3_engine_config_names_the_head_under_the_model_mount(eagle3_prod):
    args = engine_args(eagle3_prod)
    spec = args["speculative_config"]
    assert spec["decoding_type"] == "Eagle3"
    assert spec["max_draft_len"] == 3
    mount = model_mount(eagle3_prod)
    assert spec["speculative_model_dir"] == f"{mount}/{HEAD}"
    args = worker_args(eagle3_prod)
    assert args[args.index("--model") + 1] == f"{mount}/{TARGET_33}"


def test_prod_eagle3_pipeline_fetches_the_head_and_the_workers_wait_for_it(eagle3_prod):
    upload = eagle3_prod.get(JOB, "model-speculative-upload")
    download = eagle3_prod.get(JOB, "model-speculative-download")
    for job, step in ((upload, "upload"), (download, "download")):
        command = job_command(job)
        assert command[2] == step and command[command.index("--model") + 1] == HEAD
    assert upload.urn in download.explicit_dependencies
    assert eagle3_prod.depends_on(dgd(eagle3_prod), download)
    target = eagle3_prod.get(JOB, "model-download")
    assert job_command(target)[job_command(target).index("--model") + 1] == TARGET_33
    assert eagle3_prod.depends_on(dgd(eagle3_prod), target)


def test_draft_from_another_tokenizer_family_fails_before_any_resource():
    with pytest.raises(PlanError) as info:
        evaluate("prod", overrides=model_override("prod", method="draft-target", model="Qwen/Qwen2.5-0.5B-Instruct"))
    message = info.value.message
    assert info.value.registered == 0
    assert "gtc-demo:model" in message and "model.speculative.model='Qwen/Qwen2.5-0.5B-Instruct'" in message
    assert "qwen2 tokenizer" in message and "llama3 tokenizer" in message
    assert "allowed: " in message and DRAFT in message
    assert "Traceback" not in message


# -- the engine config against the pinned TensorRT-LLM schema ---------------------------------------

@pytest.mark.parametrize("fixture,decoding_type", [("eagle3_prod", "Eagle3"), ("draft_dev", "Draft_Target")])
def test_engine_config_parses_under_the_pinned_trtllm_schema(request, fixture, decoding_type):
    raw = engine_args(request.getfixturevalue(fixture))["speculative_config"]
    parsed = EngineArgs.model_validate({"speculative_config": raw}).speculative_config
    assert parsed.decoding_type == decoding_type
    assert parsed.max_draft_len == 3
    assert str(parsed.speculative_model).startswith("/models/")


@pytest.mark.parametrize("bad", [
    {"decoding_type": "Eagle3", "max_draft_len": 3, "speculative_model_dir": "/m", "num_draft_tokens": 3},
    {"decoding_type": "DraftTarget", "max_draft_len": 3, "speculative_model_dir": "/m"},
    {"decoding_type": "Draft_Target", "max_draft_len": 0, "speculative_model_dir": "/m"},
    {"decoding_type": "Eagle3", "max_draft_len": 3},
])
def test_the_schema_refuses_what_trtllm_refuses(bad):
    """The transcription is strict: a misspelt key, the old DraftTarget spelling, no draft length, no model."""
    with pytest.raises(ValidationError):
        EngineArgs.model_validate({"speculative_config": bad})


def test_phase_1_has_no_speculative_config(stack_plan):
    assert "speculative_config" not in engine_args(stack_plan)
    assert stack_plan.find(JOB, "model-speculative-upload") is None


@pytest.mark.parametrize("fixture", ["eagle3_prod", "draft_dev"])
def test_kv_block_reuse_and_kv_events_stay_on(request, fixture):
    plan = request.getfixturevalue(fixture)
    assert engine_args(plan)["kv_cache_config"]["enable_block_reuse"] is True
    assert "--publish-kv-events" in worker_args(plan)


def test_a_pinned_revision_is_fetched_and_names_the_jobs(draft_dev):
    import hashlib
    upload = draft_dev.get(JOB, "model-speculative-upload")
    command = job_command(upload)
    assert command[command.index("--revision") + 1] == REVISION
    suffix = hashlib.sha256(f"{DRAFT}@{REVISION}".encode()).hexdigest()[:8]
    assert upload.plain["metadata"]["name"] == f"model-upload-spaces-{suffix}"


# -- switching phases is a config change ----------------------------------------------------------

def test_switching_to_phase_2_touches_only_engine_config_new_jobs_and_the_dgd(dev_plan, draft_dev):
    changed = touched(dev_plan, draft_dev)
    names = sorted(r.name for r in changed.values())
    assert names == sorted(["inference-engine-config", "inference-dgd",
                            "model-speculative-upload", "model-speculative-download"]), names
    assert {"model-upload", "model-download"}.isdisjoint(names), "the target must not be fetched again"


def test_switching_to_phase_3_keeps_infrastructure_and_charts(dev_plan):
    after = evaluate("dev", overrides=model_override("dev", name=TARGET_33, method="eagle3", model=HEAD))
    changed = touched(dev_plan, after)
    outside = sorted(r.name for r in changed.values()
                     if r.type.startswith(("digitalocean:", "kubernetes:helm.sh/", "random:", "pulumi:")))
    assert outside == []
    assert {"inference-engine-config", "inference-dgd", "model-speculative-upload",
            "model-speculative-download"} <= {r.name for r in changed.values()}


def test_mocker_backend_models_the_same_speculative_decoding():
    plan = evaluate("dev", overrides={**model_override("dev", method="draft-target", model=DRAFT),
                                      "gtc-demo:workerBackend": "mocker"}, secrets={"gtc-demo:hfToken": None})
    args = worker_args(plan)
    assert args[args.index("--ais-nextn") + 1] == "3"
    assert [j.name for j in plan.by_type(JOB)] == ["verification-job"]  # no weights for the mocker, only the check
