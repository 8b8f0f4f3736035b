"""The cloud stacks' KV router runs with the settings the local rehearsal measured, in names Dynamo knows."""

import importlib.util
import re
from pathlib import Path

import pytest
from dgd_view import components, env
from plan import evaluate

from rehearsal.settings import BOOTH

def kv_frontend_env(plan) -> dict[str, str]:
    return env(components(plan)["Frontend"])


def dynamo_router_env_vars() -> set[str]:
    """Every DYN_ROUTER_* setting the installed Dynamo frontend reads (from its argument definitions)."""
    spec = importlib.util.find_spec("dynamo.common.configuration.groups.kv_router_args")
    source = Path(spec.origin).read_text()
    return set(re.findall(r'"(DYN_ROUTER_[A-Z_]+)"', source))


def test_stacks_use_the_rehearsals_booth_settings(stack_plan):
    env = kv_frontend_env(stack_plan)
    assert float(env["DYN_ROUTER_PREFILL_LOAD_SCALE"]) == BOOTH.prefill_load_scale
    assert float(env["DYN_ROUTER_TEMPERATURE"]) == BOOTH.temperature
    assert env["DYN_ROUTER_MODE"] == "kv"


@pytest.mark.parametrize("router", [
    {"prefillLoadScale": 2, "overlapScoreCredit": 8, "temperature": 0.5},
])
def test_every_rendered_router_variable_exists_in_dynamo(router):
    known = dynamo_router_env_vars()
    assert "DYN_ROUTER_PREFILL_LOAD_SCALE" in known  # the parser found the definitions
    env = kv_frontend_env(evaluate("dev", overrides={"gtc-demo:router": router}))
    rendered = {name for name in env if name.startswith("DYN_ROUTER_") and name != "DYN_ROUTER_MODE"}
    assert rendered == {"DYN_ROUTER_PREFILL_LOAD_SCALE", "DYN_ROUTER_KV_OVERLAP_SCORE_CREDIT", "DYN_ROUTER_TEMPERATURE"}
    assert rendered <= known
