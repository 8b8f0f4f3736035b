"""Speculative decoding in the engine config: the `speculative_config` block TensorRT-LLM reads.

Keys are those of `tensorrt_llm/llmapi/llm_args.py` of the TensorRT-LLM line ai-dynamo 1.6.1 pins
(tensorrt-llm==1.3.0rc29); docs/speculative-decoding.md cites the source and
tests/stack/trtllm_speculative_schema.py transcribes it. Dynamo's worker reads `decoding_type` and
`max_draft_len` back from the same block (dynamo/trtllm/utils/trtllm_utils.py,
get_spec_decode_runtime_data) and publishes them in the model card.
"""

from __future__ import annotations

from typing import Any, Optional

from components.config import Speculative

# model.speculative.method -> TensorRT-LLM `decoding_type` (Literal of Eagle3DecodingConfig / DraftTargetDecodingConfig).
DECODING_TYPE = {"eagle3": "Eagle3", "draft-target": "Draft_Target"}


def weights_path(models_mount: str, repository: str) -> str:
    """Where the pipeline puts a checkpoint on the model volume: `<mount>/<org>/<name>`."""
    return f"{models_mount}/{repository}"


def speculative_config(spec: Speculative, models_mount: str) -> Optional[dict[str, Any]]:
    """The LLM-API `speculative_config`, or None for phase 1.

    `speculative_model_dir` is the name TensorRT-LLM's own 70B EAGLE3 test and Dynamo's recipes use;
    the pinned line accepts it as an alias of `speculative_model` (AliasChoices), older lines only it.
    EAGLE3 runs one-model (the head as a submodule of the target, one engine, one KV cache manager).
    """
    if not spec.enabled:
        return None
    config: dict[str, Any] = {
        "decoding_type": DECODING_TYPE[spec.method],
        "max_draft_len": spec.max_draft_len,
        "speculative_model_dir": weights_path(models_mount, spec.model),
    }
    if spec.method == "eagle3":
        config["eagle3_one_model"] = True
    return config
