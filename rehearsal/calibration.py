"""Mocker timing from real GPU measurements (rehearsal/calibration/*.json, one TP=4 shard of Llama-3.1-70B).

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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "calibration"
GPUS = {"h100": "h100-llama70b-tp4-shard.json", "h200": "h200-llama70b-tp4-shard.json"}
PREFIX_HIT = "h200-llama70b-tp4-prefix-hit.json"
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
class GpuCalibration:
    """The figures one GPU's timing rests on (ms), and the tables derived from them."""

    gpu: str
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


@cache
def load(gpu: str) -> GpuCalibration:
    """The calibration of `gpu` ('h100' or 'h200')."""
    if gpu not in GPUS:
        raise ValueError(f"calibration '{gpu}' unknown; choose one of {sorted(GPUS)}")
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
        prefill_compute={int(k): v for k, v in shard["prefill_ms_per_replica_compute"].items()},
        allreduce={int(k): v for k, v in shard["allreduce_estimate_ms_at_350GBps"].items()},
        hit_at_4k=hits,
        decode=decode,
    )


def write_npz(gpu: str, path: Path) -> Path:
    """Write the mocker-format perf table (`--planner-profile-data`) for `gpu`."""
    import numpy as np  # installed with ai-dynamo (the mocker reads the same file with it)

    cal = load(gpu)
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
