"""The engine limits every replica runs with, and their spelling for the mocker that stands in for TRT-LLM."""

from __future__ import annotations

# The engine's max-num-tokens in the cloud stacks (Pulumi.<stack>.yaml model.engine.maxNumTokens) and the
# mocker's --max-num-batched-tokens: the longest prompt a booth conversation may reach.
MAX_NUM_TOKENS = 8192
# The engine's max-batch-size in the cloud stacks (model.engine.maxBatchSize): at most this many sequences
# per iteration on one replica; beyond it requests wait for a slot.
MAX_BATCH_SIZE = 16
# How often a frontend may move a request to another worker when its worker disconnects or cannot be reached
# (Dynamo 1.6.1 `--migration-limit` / DYN_MIGRATION_LIMIT, default 0 = never). With 0, a worker that dies fails
# its in-flight requests and, until its registration expires, new ones routed to it; with 3 they go to the
# surviving worker. The cluster's frontends and the rehearsal's use this one value.
MIGRATION_LIMIT = 3
# The share of a GPU's memory left after the weights that TensorRT-LLM gives the KV cache
# (model.engine.freeGpuMemoryFraction) and the cache's element type (model.engine.kvCacheDtype): the config's
# defaults, and what the rehearsal sizes each mock replica's KV cache with (rehearsal/calibration.py).
FREE_GPU_MEMORY_FRACTION = 0.85
KV_CACHE_DTYPE = "fp8"
# Tokens per KV block: TensorRT-LLM's tokens_per_block default, and the mocker's for --engine-type trtllm.
MOCKER_BLOCK_SIZE = 32


def engine_limit_args(max_batch_size: int = MAX_BATCH_SIZE, max_num_tokens: int = MAX_NUM_TOKENS,
                      chunked_prefill: bool = True) -> list[str]:
    """The engine's batch limits in the mocker's spelling (TRT-LLM max_batch_size / max_num_tokens /
    enable_chunked_prefill), so a mocker replica queues and batches like the TRT-LLM replica it stands for."""
    return ["--max-num-seqs", str(max_batch_size), "--max-num-batched-tokens", str(max_num_tokens),
            "--enable-chunked-prefill" if chunked_prefill else "--no-enable-chunked-prefill"]
