"""The config this issue added (model.readyTimeoutMinutes, modelPipeline.*, images.mocker), validated in-process."""

import sys
from pathlib import Path

import pytest
from plan import stack_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from components.config import ConfigError, parse_config  # noqa: E402


def raw(stack: str, **overrides) -> dict:
    values = {key.split(":", 1)[1]: value for key, value in stack_config(stack).items() if key.startswith("gtc-demo:")}
    values.update(overrides)
    return values


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_set_the_new_keys(stack):
    cfg = parse_config(raw(stack))
    assert cfg.model.ready_timeout_minutes >= 60
    assert cfg.model_pipeline.job_timeout_minutes >= 60
    assert cfg.model_pipeline.backoff_limit <= 3
    assert cfg.images.mocker is None


@pytest.mark.parametrize("key,value,fragment", [
    ("modelPipeline", {"jobTimeoutMinutes": 30}, "gtc-demo:modelPipeline.jobTimeoutMinutes=30"),
    ("modelPipeline", {"boto3Version": "latest"}, "gtc-demo:modelPipeline.boto3Version='latest'"),
    ("images", None, "gtc-demo:images.mocker='python:latest'"),
])
def test_bad_values_name_key_value_and_what_is_allowed(key, value, fragment):
    if key == "images":
        value = {**stack_config("dev")["gtc-demo:images"], "mocker": "python:latest"}
    with pytest.raises(ConfigError) as err:
        parse_config(raw("dev", **{key: value}))
    assert fragment in str(err.value)


def test_ready_timeout_below_an_hour_is_refused():
    model = {**stack_config("dev")["gtc-demo:model"], "readyTimeoutMinutes": 20}
    with pytest.raises(ConfigError) as err:
        parse_config(raw("dev", model=model))
    assert "gtc-demo:model.readyTimeoutMinutes=20" in str(err.value)
    assert "greater than or equal to 60" in str(err.value)
