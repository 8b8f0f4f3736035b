"""The cloud stacks' KV router runs with the settings the local rehearsal measured, in a form Dynamo 1.6.1
reads without deprecation: a --router-policy-config file (DYN_ROUTER_POLICY_CONFIG) whose
`dynamo-default-cost-fn` parameters the real router accepts (test_contract_router_policy.py starts it)."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from dgd_view import components, env
from plan import evaluate

from rehearsal.settings import BOOTH

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def plan_policy_document(plan) -> dict:
    return yaml.safe_load(plan.get(CONFIG_MAP, "inference-router-policy").plain["data"]["policy.yaml"])


def plan_engine_yaml(plan) -> str:
    return plan.get(CONFIG_MAP, "inference-engine-config").plain["data"]["engine.yaml"]


def policy_parameters(plan) -> dict:
    [instance] = plan_policy_document(plan)["worker_selection"]["instances"]
    return instance["parameters"]


def dynamo_router_env_vars() -> set[str]:
    """Every DYN_ROUTER_* setting the installed Dynamo frontend reads (from its argument definitions)."""
    spec = importlib.util.find_spec("dynamo.common.configuration.groups.kv_router_args")
    source = Path(spec.origin).read_text()
    return set(re.findall(r'"(DYN_ROUTER_[A-Z_]+)"', source))


def test_stacks_use_the_rehearsals_booth_settings(stack_plan, tmp_path):
    assert policy_parameters(stack_plan) == {"prefill_load_scale": BOOTH.prefill_load_scale,
                                             "router_temperature": BOOTH.temperature}
    # The rehearsal's KV frontend reads the same document, not flags that merely route alike.
    [flag, path] = BOOTH.args(tmp_path)
    assert flag == "--router-policy-config"
    stack_document = plan_policy_document(stack_plan)
    assert yaml.safe_load(Path(path).read_text()) == stack_document


def test_rehearsal_mockers_batch_like_the_stacks_engine(stack_plan):
    """A mocker replica queues like the TRT-LLM replica it stands for: same batch size, token budget, chunking."""
    from rehearsal.settings import engine_limit_args

    engine_config = yaml.safe_load(plan_engine_yaml(stack_plan))
    assert engine_limit_args() == engine_limit_args(engine_config["max_batch_size"], engine_config["max_num_tokens"],
                                                    engine_config["enable_chunked_prefill"])
    assert env(components(stack_plan)["Frontend"])["DYN_ROUTER_MODE"] == "kv"


@pytest.mark.parametrize("router", [
    {"prefillLoadScale": 2, "overlapScoreCredit": 8, "temperature": 0.5},
])
def test_every_router_setting_reaches_the_policy_file_dynamo_reads(router):
    known = dynamo_router_env_vars()
    assert "DYN_ROUTER_POLICY_CONFIG" in known  # the parser found the definitions
    plan = evaluate("dev", overrides={"gtc-demo:router": router})
    kv_env = env(components(plan)["Frontend"])
    rendered = {name for name in kv_env if name.startswith("DYN_ROUTER_")}
    assert rendered == {"DYN_ROUTER_MODE", "DYN_ROUTER_POLICY_CONFIG"}
    assert rendered - {"DYN_ROUTER_MODE"} <= known  # DYN_ROUTER_MODE is the frontend's own (test_contract_dynamo_cli)
    assert policy_parameters(plan) == {"prefill_load_scale": 2.0, "overlap_score_credit": 8.0, "router_temperature": 0.5}


def test_no_router_settings_means_no_policy_file():
    plan = evaluate("dev", overrides={"gtc-demo:router": {}})
    assert plan.find(CONFIG_MAP, "inference-router-policy") is None
    assert "DYN_ROUTER_POLICY_CONFIG" not in env(components(plan)["Frontend"])
