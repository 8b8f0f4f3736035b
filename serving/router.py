"""The KV frontend's router policy: one document for the cluster's ConfigMap and the rehearsal's frontend."""

from __future__ import annotations

from typing import Any, Optional, Protocol

ROUTER_POLICY_TYPE = "dynamo-default-cost-fn"  # Dynamo's built-in worker-selection cost function
ROUTER_POLICY_INSTANCE = "kv-booth"


class RouterKnobs(Protocol):
    """What a policy is built from: the stack config's `router` and the rehearsal's RouterSettings both fit."""

    prefill_load_scale: Optional[float]
    overlap_score_credit: Optional[float]
    temperature: Optional[float]


def router_policy(router: RouterKnobs) -> Optional[dict[str, Any]]:
    """The KV frontend's tuning as a `--router-policy-config` document; None keeps Dynamo's defaults.

    ai-dynamo 1.6.1 deprecates the `DYN_ROUTER_PREFILL_LOAD_SCALE` / `_TEMPERATURE` /
    `_KV_OVERLAP_SCORE_CREDIT` spellings (removed in 1.7) for "the default policy parameters" in this
    file: an instance of the built-in cost function, `dynamo-default-cost-fn`, selected for aggregated
    workers. Its parameter names are the ones the real 1.6.1 router accepts (it refuses unknown ones at
    start-up); the rehearsal measured the same routing with this file as with the old flags (README).
    """
    parameters = {name: value for name, value in (("prefill_load_scale", router.prefill_load_scale),
                                                  ("overlap_score_credit", router.overlap_score_credit),
                                                  ("router_temperature", router.temperature)) if value is not None}
    if not parameters:
        return None
    return {"worker_selection": {
        "aggregated": ROUTER_POLICY_INSTANCE,
        "instances": [{"name": ROUTER_POLICY_INSTANCE, "type": ROUTER_POLICY_TYPE, "parameters": parameters}],
    }}
