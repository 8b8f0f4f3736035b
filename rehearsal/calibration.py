"""Mocker timing from real GPU measurements (rehearsal/calibration/*.json): one shard per replica layout.

Why a perf table and not --speedup-ratio: Dynamo 1.6.1's mocker takes a measured latency table
(`--planner-profile-data FILE.npz`: prefill TTFT by prompt tokens, decode ITL by active KV tokens and
context length). Feeding it the measured H100/H200 figures makes the rehearsal's miss (full prefill)
and hit (only the new tokens) cost what the GPUs measured, instead of scaling the mocker's built-in
polynomial by a guessed factor.

How the table is built (per GPU):
  * prefill of n uncached tokens = measured compute (512..8k) + the all-reduce estimate
    (`allreduce_estimate_ms_at_350GBps`, an upper bound: TensorRT-LLM overlaps part of it);
  * below 512 new tokens (a follow-up turn whose history is cached) the measured hit times at a
    4096-token cached context (`h200-...-prefix-hit.json`: 64/128/256 new tokens), scaled by the
    GPU's 4k prefill relative to the H200's: a hit still reads the cached context, so it is not free;
  * 16k is extrapolated from 8k (x2.1: attention grows the per-token cost);
  * decode ITL by batch and context from `decode_step_ms_compute` (batch 1/8/16, context 1k/4k/8k).

Layouts (issue 31): the booth's 2 x 70B TP=4 uses the TP=4 shard files above (H100 and H200 measured).
4 x 70B TP=2 and 8 x 8B TP=1 use `h100-layouts.json` (the same method on a real H100, 2026-12-06): prefill
and decode as measured for that shard, its all-reduce estimate (none at TP=1), and the hit rows scaled by
the layout's measured hit (4096 cached + 128 new) over TP=4's on the same GPU. No H200 run exists for those
two: their H200 tables are the H100 ones times the measured TP=4 H200/H100 ratios (prefill by token count,
decode by batch and context), and `GpuCalibration.note` says so.

KV capacity: each replica's mock KV cache holds what TensorRT-LLM would give it on that GPU
(`serving.models.memory_budget`, the budget the config check applies: weights / TP, a runtime reserve,
the engine's free-memory fraction, FP8 KV), not the mocker's default 16,384 blocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from serving import models
from serving.engine import FREE_GPU_MEMORY_FRACTION, KV_CACHE_DTYPE, MOCKER_BLOCK_SIZE

DATA_DIR = Path(__file__).parent / "calibration"
GPUS = {"h100": "h100-llama70b-tp4-shard.json", "h200": "h200-llama70b-tp4-shard.json"}
PREFIX_HIT = "h200-llama70b-tp4-prefix-hit.json"
LAYOUTS_FILE = "h100-layouts.json"
# The GPU Droplet each calibration stands for (serving.models.GPU_MEMORY_GIB): dev's and prod's node.
GPU_SLUGS = {"h100": "gpu-h100x8-640gb", "h200": "gpu-h200x8-1128gb"}
GPUS_PER_NODE = 8
HIT_CONTEXT = 4096  # the cached context of the hit rows used for short prefills
HIT_NEW_TOKENS = (64, 128, 256)
EXTRAPOLATE_16K = 2.1
# KV capacity the decode table spans (tokens across the batch): 16 sequences of 8k.
MAX_KV_TOKENS = 16 * 8192


def _read(name: str) -> dict:
    return json.loads((DATA_DIR / name).read_text())


def _interp(points: dict[int, float], x: float) -> float:
    """Piecewise-linear interpolation over sorted integer keys, clamped at the ends."""
    keys = sorted(points)
    if x <= keys[0]:
        return points[keys[0]]
    for lo, hi in zip(keys, keys[1:]):
        if x <= hi:
            return points[lo] + (points[hi] - points[lo]) * (x - lo) / (hi - lo)
    return points[keys[-1]]


@dataclass(frozen=True)
class Layout:
    """One way to fill the node's 8 GPUs with identical replicas, as the stack's model config spells it."""

    key: str
    model: str  # the catalog name (manifests/models.yaml): weights and KV shape
    measured: str  # the model name in h100-layouts.json
    tensor_parallel: int

    @property
    def replicas(self) -> int:
        return GPUS_PER_NODE // self.tensor_parallel

    @property
    def label(self) -> str:
        size = "8B" if "8B" in self.model else "70B"
        return f"{self.replicas} x {size} TP={self.tensor_parallel}"


BOOTH_LAYOUT = "70b-tp4"
LAYOUTS = {layout.key: layout for layout in (
    Layout("70b-tp4", "nvidia/Llama-3.1-70B-Instruct-FP8", "Llama-3.1-70B", 4),
    Layout("70b-tp2", "nvidia/Llama-3.1-70B-Instruct-FP8", "Llama-3.1-70B", 2),
    Layout("8b-tp1", "nvidia/Llama-3.1-8B-Instruct-FP8", "Llama-3.1-8B", 1),
)}


@dataclass(frozen=True)
class GpuCalibration:
    """The figures one GPU's timing rests on (ms), and the tables derived from them."""

    gpu: str
    layout: Layout
    slug: str  # the GPU Droplet slug whose memory the KV capacity is sized for
    note: str  # where the figures come from (measured, or scaled and from what)
    prefill_compute: dict[int, float]
    allreduce: dict[int, float]
    hit_at_4k: dict[int, float]  # new tokens -> ms with 4096 tokens cached (H200-measured, scaled)
    decode: dict[tuple[int, int], float]  # (batch, context) -> ms per step

    def prefill_ms(self, new_tokens: int) -> float:
        """Time to first token for `new_tokens` uncached tokens on one replica."""
        table = self.prefill_table()
        return _interp(dict(table), new_tokens)

    def prefill_table(self) -> list[tuple[int, float]]:
        rows = [(n, ms) for n, ms in self.hit_at_4k.items()]
        for n, compute in sorted(self.prefill_compute.items()):
            rows.append((n, compute + _interp(self.allreduce, n)))
        rows.append((16384, rows[-1][1] * EXTRAPOLATE_16K))
        return sorted(rows)

    def hit_ms(self, new_tokens: int) -> float:
        """A follow-up turn whose history is cached: only its new tokens are prefilled."""
        return self.prefill_ms(new_tokens)

    def decode_ms(self, batch: float, context: float) -> float:
        by_ctx = {}
        for (b, ctx), ms in self.decode.items():
            by_ctx.setdefault(ctx, {})[b] = ms
        per_ctx = {ctx: _interp(rows, batch) for ctx, rows in by_ctx.items()}
        return _interp(per_ctx, context)

    def kv_blocks(self) -> int:
        """Mock KV-cache blocks per replica: what the engine would leave for the cache on this GPU (FP8 KV)."""
        card = models.card(self.layout.model)
        tp = self.layout.tensor_parallel
        budget = models.memory_budget(self.slug, tp, card, None, KV_CACHE_DTYPE, FREE_GPU_MEMORY_FRACTION, 1, 1)
        tokens = budget.kv_gib * tp * models.GIB / card.kv_bytes_per_token(KV_CACHE_DTYPE)
        return int(tokens // MOCKER_BLOCK_SIZE)


def _check(gpu: str, layout: str) -> None:
    if gpu not in GPUS:
        raise ValueError(f"calibration '{gpu}' unknown; choose one of {sorted(GPUS)}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout '{layout}' unknown; choose one of {sorted(LAYOUTS)}")


@cache
def load(gpu: str, layout: str = BOOTH_LAYOUT) -> GpuCalibration:
    """The calibration of `gpu` ('h100' or 'h200') for `layout` (LAYOUTS; the booth's 2 x TP=4 by default)."""
    _check(gpu, layout)
    if layout != BOOTH_LAYOUT:
        return _other_layout(gpu, LAYOUTS[layout])
    shard = _read(GPUS[gpu])
    h200 = _read(GPUS["h200"])
    scale = shard["prefill_ms_per_replica_compute"]["4096"] / h200["prefill_ms_per_replica_compute"]["4096"]
    hits = {c["new"]: c["hit_ms"] * scale for c in _read(PREFIX_HIT)["cases"] if c["cached"] == HIT_CONTEXT and c["new"] in HIT_NEW_TOKENS}
    decode = {}
    for key, ms in shard["decode_step_ms_compute"].items():
        b, ctx = key.split("_")
        decode[(int(b[1:]), int(ctx[3:]))] = ms
    return GpuCalibration(
        gpu=shard["gpu"],
        layout=LAYOUTS[BOOTH_LAYOUT],
        slug=GPU_SLUGS[gpu],
        note=f"measured: one TP=4 shard on {shard['gpu']} ({GPUS[gpu]})",
        prefill_compute={int(k): v for k, v in shard["prefill_ms_per_replica_compute"].items()},
        allreduce={int(k): v for k, v in shard["allreduce_estimate_ms_at_350GBps"].items()},
        hit_at_4k=hits,
        decode=decode,
    )


def _measured_layout(layout: Layout) -> dict:
    for row in _read(LAYOUTS_FILE)["layouts"]:
        if row["model"] == layout.measured and row["tp"] == layout.tensor_parallel:
            return row
    raise ValueError(f"{LAYOUTS_FILE} has no {layout.measured} TP={layout.tensor_parallel} row")


def _other_layout(gpu: str, layout: Layout) -> GpuCalibration:
    """A layout measured on H100 only (h100-layouts.json); H200 scaled by the measured TP=4 H200/H100 ratios."""
    row = _measured_layout(layout)
    tp4_row = _measured_layout(LAYOUTS[BOOTH_LAYOUT])
    booth_h100 = load("h100")
    hit_key = f"{HIT_CONTEXT}+128"
    hit_scale = row["prefix_hit"][hit_key]["hit_ms"] / tp4_row["prefix_hit"][hit_key]["hit_ms"]
    prefill = {int(k): v for k, v in row["prefill_ms"].items()}
    allreduce = {int(k): v for k, v in row.get("allreduce_estimate_ms_at_350GBps", {"1024": 0.0, "8192": 0.0}).items()}
    hits = {n: ms * hit_scale for n, ms in booth_h100.hit_at_4k.items()}
    decode = {}
    for key, ms in row["decode_step_ms"].items():
        b, ctx = key.split("_")
        decode[(int(b[1:]), int(ctx[3:]))] = ms
    gpu_name = _read(LAYOUTS_FILE)["gpu"]
    note = f"measured: one {layout.measured} TP={layout.tensor_parallel} shard on {gpu_name} ({LAYOUTS_FILE})"
    if gpu != "h100":
        booth = load(gpu)
        prefill_ratio = {n: booth.prefill_compute[n] / booth_h100.prefill_compute[n] for n in booth.prefill_compute}
        prefill = {n: ms * _interp(prefill_ratio, n) for n, ms in prefill.items()}
        hits = {n: ms * _interp(prefill_ratio, HIT_CONTEXT) for n, ms in hits.items()}
        decode = {key: ms * booth.decode[key] / booth_h100.decode[key] for key, ms in decode.items()}
        gpu_name = booth.gpu
        note = (f"scaled, not measured: the {layout.label} H100 figures ({LAYOUTS_FILE}) times the measured TP=4 "
                f"{gpu_name} / H100 ratios (prefill by token count, decode by batch and context)")
    return GpuCalibration(gpu=gpu_name, layout=layout, slug=GPU_SLUGS[gpu], note=note, prefill_compute=prefill,
                          allreduce=allreduce, hit_at_4k=hits, decode=decode)


def write_npz(gpu: str, path: Path, layout: str = BOOTH_LAYOUT) -> Path:
    """Write the mocker-format perf table (`--planner-profile-data`) for `gpu` and `layout`."""
    import numpy as np  # installed with ai-dynamo (the mocker reads the same file with it)

    cal = load(gpu, layout)
    table = cal.prefill_table()
    contexts = [1.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0]
    kv_tokens = [0.0, 4096.0, 16384.0, 32768.0, 65536.0, float(MAX_KV_TOKENS)]
    itl = [[cal.decode_ms(max(1.0, kv / ctx), min(ctx, 8192.0)) for ctx in contexts] for kv in kv_tokens]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        prefill_isl=np.array([float(n) for n, _ in table]),
        prefill_ttft_ms=np.array([ms for _, ms in table]),
        decode_active_kv_tokens=np.array(kv_tokens),
        decode_context_length=np.array(contexts),
        decode_itl=np.array(itl),
    )
    return path
