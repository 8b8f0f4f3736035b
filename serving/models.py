"""What the program knows about checkpoints (manifests/models.yaml) and the GPU memory a replica needs.

Preview has no network and no GPU, so the facts speculative decoding is validated against (tokenizer
family, which target an EAGLE3 head was trained for, weight sizes, attention shape) come from this
catalog, and the memory budget is arithmetic on them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

CATALOG_FILE = Path(__file__).resolve().parents[1] / "manifests" / "models.yaml"

# Usable memory of one GPU of each DOKS GPU Droplet slug, GiB (nvidia-smi total: H100 SXM 81,559 MiB,
# H200 143,771 MiB, L40S 46,068 MiB, RTX 6000 Ada 49,140 MiB, RTX 4000 Ada 20,475 MiB).
GPU_MEMORY_GIB: dict[str, float] = {
    "gpu-h100x1-80gb": 79.6,
    "gpu-h100x8-640gb": 79.6,
    "gpu-h200x1-141gb": 140.4,
    "gpu-h200x8-1128gb": 140.4,
    "gpu-h200x8-1128gb-contracted": 140.4,
    "gpu-l40sx1-48gb": 45.0,
    "gpu-6000adax1-48gb": 48.0,
    "gpu-4000adax1-20gb": 20.0,
}
# Per GPU, besides weights and KV cache: CUDA context, NCCL buffers, activations for maxNumTokens, CUDA graphs.
RUNTIME_RESERVE_GIB = 6.0
GIB = 1024 ** 3
KV_BYTES = {"fp8": 1, "auto": 2}  # bytes per KV element: FP8 cache, or the checkpoint's bf16


class ModelCard(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    role: Literal["target", "draft", "eagle3-head"]
    base: str
    tokenizer: str
    weights_gib: float = Field(gt=0)
    layers: int = Field(ge=1)
    kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    licence: str

    def kv_bytes_per_token(self, kv_dtype: str) -> int:
        """K and V for every layer, all KV heads, one token."""
        return 2 * self.layers * self.kv_heads * self.head_dim * KV_BYTES[kv_dtype]


@functools.lru_cache(maxsize=1)
def catalog() -> dict[str, ModelCard]:
    data = yaml.safe_load(CATALOG_FILE.read_text())
    return {name: ModelCard.model_validate(card) for name, card in data["models"].items()}


def card(name: str) -> Optional[ModelCard]:
    return catalog().get(name)


def names(role: Optional[str] = None, tokenizer: Optional[str] = None, base: Optional[str] = None) -> list[str]:
    """Catalog names matching every given fact, for "allowed:" lists in error messages."""
    return sorted(n for n, c in catalog().items()
                  if (role is None or c.role == role) and (tokenizer is None or c.tokenizer == tokenizer)
                  and (base is None or c.base == base))


@dataclass(frozen=True)
class MemoryBudget:
    """One GPU of one tensor-parallel replica: what is loaded, what is left, what the KV cache needs."""

    gpu_gib: float
    target_gib: float
    speculative_gib: float
    reserve_gib: float
    kv_fraction: float
    kv_needed_gib: float

    @property
    def free_gib(self) -> float:
        return self.gpu_gib - self.target_gib - self.speculative_gib - self.reserve_gib

    @property
    def kv_gib(self) -> float:
        """TensorRT-LLM gives the KV cache this fraction of the memory left after loading the weights."""
        return max(self.free_gib, 0.0) * self.kv_fraction

    @property
    def fits(self) -> bool:
        return self.free_gib > 0 and self.kv_gib >= self.kv_needed_gib


def memory_budget(gpu_slug: str, tensor_parallel: int, target: ModelCard, speculative: Optional[ModelCard],
                  kv_dtype: str, kv_fraction: float, sequences: int, tokens_per_sequence: int) -> MemoryBudget:
    """Weights and KV cache are sharded over the replica's `tensor_parallel` GPUs (draft and head too)."""
    kv_per_token = target.kv_bytes_per_token(kv_dtype)
    if speculative is not None:
        kv_per_token += speculative.kv_bytes_per_token(kv_dtype)
    return MemoryBudget(
        gpu_gib=GPU_MEMORY_GIB[gpu_slug],
        target_gib=target.weights_gib / tensor_parallel,
        speculative_gib=(speculative.weights_gib / tensor_parallel) if speculative else 0.0,
        reserve_gib=RUNTIME_RESERVE_GIB,
        kv_fraction=kv_fraction,
        kv_needed_gib=sequences * tokens_per_sequence * kv_per_token / tensor_parallel / GIB,
    )
