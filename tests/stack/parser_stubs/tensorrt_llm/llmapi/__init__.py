"""The fields `dynamo.trtllm.backend_args` reads from `tensorrt_llm.llmapi.BuildConfig`, with
TensorRT-LLM's defaults (tensorrt_llm/llmapi/llm_args.py)."""
from typing import Optional

from pydantic import BaseModel


class BuildConfig(BaseModel):
    max_batch_size: int = 2048
    max_num_tokens: int = 8192
    max_seq_len: Optional[int] = None
    max_beam_width: int = 1
