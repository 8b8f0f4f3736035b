"""`gtc-demo:model.speculative` is validated at preview: key, value and what is allowed, before any resource."""

import pytest

from components.config import ConfigError, parse_config
from serving.models import GPU_MEMORY_GIB, catalog
from components.config import GPU_SLUGS
from test_config_validation import raw_config

HEAD = "yuhuili/EAGLE3-LLaMA3.3-Instruct-70B"
TARGET_33 = "nvidia/Llama-3.3-70B-Instruct-FP8"


def with_model(stack: str, name=None, **model_changes):
    raw = raw_config(stack)
    if name:
        raw["model"]["name"] = name
    raw["model"].update(model_changes)
    return raw


def error(raw) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_phase_validates_on_both_stacks(stack):
    phases = [
        (None, {"method": "none"}),
        (None, {"method": "draft-target", "model": "meta-llama/Llama-3.1-8B-Instruct", "maxDraftLen": 3}),
        (TARGET_33, {"method": "eagle3", "model": HEAD, "maxDraftLen": 3}),
    ]
    for name, spec in phases:
        config = parse_config(with_model(stack, name=name, speculative=spec))
        assert config.model.speculative.method == spec["method"]


def test_draft_of_another_tokenizer_family_names_key_value_and_allowed():
    message = error(with_model("dev", speculative={"method": "draft-target", "model": "Qwen/Qwen2.5-0.5B-Instruct"}))
    assert "model.speculative.model='Qwen/Qwen2.5-0.5B-Instruct'" in message
    assert "qwen2 tokenizer" in message and "llama3 tokenizer" in message
    assert "allowed: " in message and "meta-llama/Llama-3.1-8B-Instruct" in message


def test_head_trained_for_another_target_is_refused():
    message = error(with_model("prod", speculative={"method": "eagle3", "model": HEAD}))
    assert f"model.speculative.model='{HEAD}'" in message
    assert "trained for meta-llama/Llama-3.3-70B-Instruct" in message
    assert "model.name='nvidia/Llama-3.1-70B-Instruct-FP8'" in message
    assert TARGET_33 in message  # says which target makes phase 3 work


def test_head_for_the_8b_model_on_the_70b_target_is_refused():
    message = error(with_model("prod", name=TARGET_33,
                               speculative={"method": "eagle3", "model": "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B"}))
    assert "trained for meta-llama/Llama-3.1-8B-Instruct" in message and HEAD in message


def test_a_draft_is_not_a_head():
    message = error(with_model("prod", name=TARGET_33,
                               speculative={"method": "eagle3", "model": "meta-llama/Llama-3.1-8B-Instruct"}))
    assert "is not a known EAGLE3 head" in message and HEAD in message


def test_method_needs_a_model():
    message = error(with_model("dev", speculative={"method": "draft-target"}))
    assert "model.speculative.model is required when model.speculative.method='draft-target'" in message


def test_unknown_method_lists_the_three():
    message = error(with_model("dev", speculative={"method": "medusa"}))
    assert "gtc-demo:model.speculative.method='medusa'" in message
    assert "'none', 'draft-target' or 'eagle3'" in message


@pytest.mark.parametrize("value", [0, 9])
def test_max_draft_len_out_of_range(value):
    message = error(with_model("dev", speculative={"method": "draft-target", "model": "meta-llama/Llama-3.1-8B-Instruct",
                                                   "maxDraftLen": value}))
    assert f"gtc-demo:model.speculative.maxDraftLen={value}" in message
    assert ("greater than or equal to 1" if value == 0 else "less than or equal to 8") in message


def test_revision_must_be_a_commit():
    message = error(with_model("dev", speculative={"method": "draft-target", "model": "meta-llama/Llama-3.1-8B-Instruct",
                                                   "revision": "main"}))
    assert "gtc-demo:model.speculative.revision='main'" in message and "40-character" in message


def test_unknown_target_cannot_be_checked():
    message = error(with_model("dev", name="acme/Some-70B", speculative={"method": "eagle3", "model": HEAD}))
    assert "model.name='acme/Some-70B'" in message and "manifests/models.yaml" in message
    assert TARGET_33 in message


def test_bf16_70b_at_tp2_with_an_eagle3_head_does_not_fit_an_h100():
    raw = with_model("dev", name="meta-llama/Llama-3.3-70B-Instruct", tensorParallel=2,
                     speculative={"method": "eagle3", "model": HEAD})
    message = error(raw)
    assert "GPU memory" in message and "gpu-h100x8-640gb" in message
    assert "target 66.0" in message and f"EAGLE3 head {HEAD} 1.5" in message
    assert "freeGpuMemoryFraction=0.85" in message and "allowed: " in message


def test_the_same_fits_an_h200():
    raw = with_model("prod", name="meta-llama/Llama-3.3-70B-Instruct", tensorParallel=2,
                     speculative={"method": "eagle3", "model": HEAD})
    assert parse_config(raw).model.tensor_parallel == 2


def test_kv_fraction_too_small_for_the_batch():
    raw = with_model("dev", name=TARGET_33, speculative={"method": "eagle3", "model": HEAD})
    raw["model"]["engine"]["freeGpuMemoryFraction"] = 0.05
    raw["model"]["engine"]["maxBatchSize"] = 64
    message = error(raw)
    assert "the KV cache gets model.engine.freeGpuMemoryFraction=0.05" in message and "maxBatchSize 64" in message


def test_mocker_backend_skips_the_gpu_budget():
    raw = with_model("dev", name="meta-llama/Llama-3.3-70B-Instruct", tensorParallel=1)
    raw["workerBackend"] = "mocker"
    assert parse_config(raw).uses_gpus is False


def test_catalog_and_gpu_table_cover_what_config_allows():
    assert set(GPU_MEMORY_GIB) == set(GPU_SLUGS)
    heads = {n for n, c in catalog().items() if c.role == "eagle3-head"}
    assert HEAD in heads
    for name, card in catalog().items():
        if card.role == "eagle3-head":
            assert card.layers == 1, name
