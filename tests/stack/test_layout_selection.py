"""A stack can choose the replica layout the routing story needs by config alone (issue 31, item 3): 4 x 70B
TP=2 on the same 8-GPU node renders four 2-GPU workers, engine and worker agreeing on TP, and the memory and
GPU-count checks still refuse a layout that does not fit, naming the key, the value and what is allowed."""

from __future__ import annotations

import pytest
import yaml

from components.config import ConfigError, parse_config
from dgd_view import components, main_container
from plan import evaluate, stack_config
from test_config_validation import raw_config

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def with_layout(stack: str, replicas: int, tensor_parallel: int) -> dict:
    model = dict(stack_config(stack)["gtc-demo:model"])
    model.update(replicas=replicas, tensorParallel=tensor_parallel)
    return {"gtc-demo:model": model}


@pytest.fixture(scope="module")
def tp2_plan():
    return evaluate("prod", overrides=with_layout("prod", 4, 2))


def test_four_tp2_replicas_render_four_two_gpu_workers(tp2_plan):
    worker = components(tp2_plan)["TrtllmWorker"]
    container = main_container(worker)
    args = container["args"]
    assert worker["replicas"] == 4
    assert args[args.index("--tensor-parallel-size") + 1] == "2"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    engine = yaml.safe_load(tp2_plan.get(CONFIG_MAP, "inference-engine-config").plain["data"]["engine.yaml"])
    assert engine["tensor_parallel_size"] == 2


def test_the_layout_change_is_a_diff_of_the_graph_and_engine_only(prod_plan, tp2_plan):
    """`pulumi preview` of the switch shows what a reviewer should see: the DGD and its engine config change."""
    booth, tp2 = components(prod_plan)["TrtllmWorker"], components(tp2_plan)["TrtllmWorker"]
    assert (booth["replicas"], tp2["replicas"]) == (2, 4)
    before = {(r.type, r.name) for r in prod_plan.resources}
    after = {(r.type, r.name) for r in tp2_plan.resources}
    assert before == after  # same resources: nothing is replaced but what the layout names
    booth_engine = prod_plan.get(CONFIG_MAP, "inference-engine-config").plain
    tp2_engine = tp2_plan.get(CONFIG_MAP, "inference-engine-config").plain
    assert booth_engine["metadata"]["name"] != tp2_engine["metadata"]["name"]  # named by content: the workers roll


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_measured_70b_layout_passes_the_config_check(stack):
    for replicas, tp in ((2, 4), (4, 2)):
        raw = raw_config(stack)
        raw["model"].update(replicas=replicas, tensorParallel=tp)
        config = parse_config(raw)
        assert config.model.replicas * config.model.tensor_parallel == 8


def test_a_layout_past_the_node_is_refused_naming_the_keys():
    raw = raw_config("dev")
    raw["model"].update(replicas=8, tensorParallel=2)
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert "model.replicas x model.tensorParallel = 8 x 2 = 16 GPUs" in str(error.value)
    assert "allowed: at most 8" in str(error.value)
