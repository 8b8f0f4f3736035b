"""TensorRT-LLM's `speculative_config` schema for Eagle3 and Draft_Target, transcribed for the engine-config test.

tensorrt-llm (pinned by ai-dynamo 1.6.1 as ==1.3.0rc29) does not install here, so its pydantic models
are copied field for field from the source, keeping what decides whether a YAML `speculative_config`
parses: every field name (StrictBaseModel: extra="forbid"), the `decoding_type` literal that selects
the class (a discriminated union), the `speculative_model` alias and the model validators.

Source: NVIDIA/TensorRT-LLM, tensorrt_llm/llmapi/llm_args.py, the stored version nearest the pinned
rc29 that the search index holds (index id 7019226376, 139,423 characters; the v1.3.0rc29 tag itself
is not in the index). Classes DecodingBaseConfig, EagleDecodingConfig, Eagle3DecodingConfig,
DraftTargetDecodingConfig; the union `SpeculativeConfig = Annotated[Union[...], Field(discriminator=
"decoding_type")]`. docs/speculative-decoding.md lists the keys and how they moved between releases.
Omitted: runtime-only private attributes and cached properties; fields' descriptions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Literal, Optional, Set, Union

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, model_validator


class StrictBaseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecodingBaseConfig(StrictBaseModel):
    max_draft_len: Optional[NonNegativeInt] = None
    max_total_draft_tokens: Optional[int] = None
    speculative_model: Optional[Union[str, Path]] = Field(
        default=None, validation_alias=AliasChoices("speculative_model", "speculative_model_dir"))
    max_concurrency: Optional[NonNegativeInt] = None
    draft_len_schedule: Optional[dict[int, int]] = None
    load_format: Optional[str] = None
    acceptance_window: Optional[NonNegativeInt] = None
    acceptance_length_threshold: Optional[NonNegativeFloat] = None
    allow_advanced_sampling: bool = False


class EagleDecodingConfig(DecodingBaseConfig):
    decoding_type: Literal["Eagle"] = "Eagle"
    eagle_choices: Optional[List[List[int]]] = None
    greedy_sampling: Optional[bool] = True
    posterior_threshold: Optional[float] = None
    use_dynamic_tree: Optional[bool] = False
    dynamic_tree_max_topK: Optional[int] = None
    num_eagle_layers: Optional[int] = None
    max_non_leaves_per_layer: Optional[int] = None
    eagle3_one_model: Optional[bool] = True
    eagle3_layers_to_capture: Optional[Set[int]] = None
    eagle3_model_arch: Literal["llama3", "mistral_large3"] = "llama3"

    @model_validator(mode="after")
    def validate_eagle_config(self):
        if self.max_draft_len is None or self.max_draft_len == 0:
            raise ValueError("max_draft_len must be > 0 for Eagle")
        return self

    @model_validator(mode="after")
    def validate_speculative_model(self):
        if self.speculative_model is None:
            raise ValueError("Draft model must be provided for EAGLE")
        return self


class Eagle3DecodingConfig(EagleDecodingConfig):
    decoding_type: Literal["Eagle3"] = "Eagle3"


class DraftTargetDecodingConfig(DecodingBaseConfig):
    decoding_type: Literal["Draft_Target"] = "Draft_Target"

    @model_validator(mode="after")
    def validate_draft_target_config(self):
        if self.max_draft_len is None or self.max_draft_len <= 0:
            raise ValueError("max_draft_len must be > 0 for DraftTarget")
        if self.speculative_model is None:
            raise ValueError("speculative_model must be specified for DraftTarget")
        return self


SpeculativeConfig = Annotated[
    Union[DraftTargetDecodingConfig, EagleDecodingConfig, Eagle3DecodingConfig],
    Field(discriminator="decoding_type"),
]


class EngineArgs(StrictBaseModel):
    """Only the `speculative_config` field of the LLM args (BaseLlmArgs.speculative_config)."""

    model_config = ConfigDict(extra="ignore")
    speculative_config: Optional[SpeculativeConfig] = None
