"""The KV frontend's router policy file, as the stacks render it, is accepted by the real Dynamo 1.6.1
router (which refuses unknown worker-selection parameters at start-up) and routes requests.

Runs the rehearsal's real `python -m dynamo.frontend` over one mocker worker on 127.0.0.1, with the
policy file from the program's ConfigMap; a misspelt parameter must stop that frontend with Dynamo's own
message. That the parameters change routing like the old flags did was measured with the rehearsal
(docs/rehearsal.md, "Router settings for the booth").
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rehearsal.ports import pick_free
from rehearsal.stack import MODEL_NAME, Stack, StackConfig
from rehearsal.supervisor import ProcessDied

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


class PolicyFile:
    """Stands in for the rehearsal's RouterSettings: the KV frontend reads this file instead of flags."""

    def __init__(self, path: Path):
        self.path = path

    def args(self, work_dir: Path) -> list[str]:
        return ["--router-policy-config", str(self.path)]

    def label(self) -> str:
        return f"--router-policy-config {self.path.name}"


def stack_policy(plan) -> str:
    return plan.get(CONFIG_MAP, "inference-router-policy").plain["data"]["policy.yaml"]


def start(tmp_path: Path, policy_text: str) -> Stack:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    kv_port, rr_port = pick_free(2)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=None, workers=1, router=PolicyFile(policy))
    return Stack(config, work_dir=tmp_path / "rehearsal")


@pytest.mark.e2e
def test_the_stacks_policy_file_starts_the_real_router_and_routes(tmp_path, prod_plan, dev_plan):
    assert stack_policy(prod_plan) == stack_policy(dev_plan)
    with start(tmp_path, stack_policy(prod_plan)) as stack:
        stack.wait_ready(timeout_s=120)
        reply = httpx.post(f"{stack.config.kv_url}/v1/chat/completions", timeout=30, json={
            "model": MODEL_NAME, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4})
        assert reply.status_code == 200, reply.text


@pytest.mark.e2e
def test_a_misspelt_policy_parameter_stops_the_real_router(tmp_path, prod_plan):
    bad = stack_policy(prod_plan).replace("prefill_load_scale", "prefill_load_scal")
    assert bad != stack_policy(prod_plan)
    with start(tmp_path, bad) as stack:
        with pytest.raises(ProcessDied) as info:
            stack.wait_ready(timeout_s=120)
    assert info.value.name == "frontend-kv"
    assert ('invalid parameters for worker-selection policy type "dynamo-default-cost-fn": unknown field '
            "`prefill_load_scal`") in info.value.log_tail
