"""Speculative decoding in the rehearsal: mocker workers that emit bursts of accepted draft tokens,
calibrated to the measured H200 pieces (rehearsal/calibration/) and published acceptance rates.

The ITL speed-up of speculative decoding with k drafted tokens per step (calibration README):

    S = L * plain / (verify_k + k * draft_step),   L = (1 - a^(k+1)) / (1 - a)

with L the mean accepted length (bonus token included) and a the per-token acceptance. Dynamo 1.6.1's
mocker models acceptance itself (`--ais-nextn k --ais-nextn-accept-rates a1,..,ak`: each decode step
emits 1 + the accepted prefix of k sampled drafts), but charges every step the plain step's time and
requires `--decode-speedup-ratio 1.0`. So the rehearsal does not hand it the published `a`: it hands
it the acceptance `a_mock` whose burst length L_mock reproduces S including the verify and draft
cost, on the mocker's own clock:

    L_mock = S * r      (r: the rehearsal's usual decode speed-up ratio, which 1.0 replaces)

docs/speculative-decoding.md cites the acceptance rates and shows the numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CALIBRATION_FILE = Path(__file__).parent / "calibration" / "h200-llama70b-tp4-spec-decode.json"
METHODS = ("none", "draft-target", "eagle3")
# Per-token acceptance a of a chain draft on a Llama 3 70B Instruct target, chat, greedy (the calibration
# README's working values; docs/speculative-decoding.md "Acceptance" for the published measurements).
PUBLISHED_ACCEPTANCE = {"eagle3": 0.8, "draft-target": 0.7}
DRAFT_STEP = {"eagle3": "eagle3_head_step", "draft-target": "draft_8b_step"}
LABELS = {"none": "without speculative decoding", "draft-target": "with a Llama 3.1 8B draft",
          "eagle3": "with EAGLE3"}
# Booth concurrency: up to ~10 conversations over 2 replicas; the calibration's batch-8 row is the nearest.
BOOTH_BATCH = "b8"
MTP_SEED = 12  # fixed, so two rehearsal runs draw the same bursts


@lru_cache(maxsize=1)
def calibration() -> dict:
    return json.loads(CALIBRATION_FILE.read_text())["ms"]


def acceptance_length(alpha: float, k: int) -> float:
    """Mean tokens per step (bonus included) when each of k chained drafts is accepted with probability alpha."""
    return float(k + 1) if alpha >= 1.0 else (1 - alpha ** (k + 1)) / (1 - alpha)


def alpha_for_length(length: float, k: int) -> float:
    """The per-token acceptance whose chain of k drafts gives this mean length (1 < length < k + 1)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if acceptance_length(mid, k) < length else (low, mid)
    return (low + high) / 2


def verify_ms(batch: str, k: int) -> float:
    """Verify step of k+1 tokens: measured at k=3 and k=5, linear in k between and beyond."""
    row = calibration()[batch]
    return row["verify_k3"] + (k - 3) * (row["verify_k5"] - row["verify_k3"]) / 2


@dataclass(frozen=True)
class SpecDecoding:
    """One speculative decoding setting of the rehearsal (the stack's model.speculative.method/maxDraftLen)."""

    method: str = "none"
    max_draft_len: int = 3
    batch: str = BOOTH_BATCH

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown speculative decoding method {self.method!r}; allowed: {', '.join(METHODS)}")
        if not 1 <= self.max_draft_len <= 8:
            raise ValueError(f"max_draft_len={self.max_draft_len}; allowed: 1 to 8")

    @property
    def enabled(self) -> bool:
        return self.method != "none"

    @property
    def published_length(self) -> float:
        return acceptance_length(PUBLISHED_ACCEPTANCE[self.method], self.max_draft_len) if self.enabled else 1.0

    def itl_speedup(self) -> float:
        """S from the H200 pieces at the booth's batch: what the rehearsal's ITL should drop by."""
        if not self.enabled:
            return 1.0
        row, k = calibration()[self.batch], self.max_draft_len
        return self.published_length * row["plain"] / (verify_ms(self.batch, k) + k * row[DRAFT_STEP[self.method]])

    def mocker_args(self, decode_speedup_ratio: float) -> list[str]:
        """Mocker flags that make its ITL drop by itl_speedup(); appended after the timing flags (last wins)."""
        if not self.enabled:
            return []
        k, burst = self.max_draft_len, self.itl_speedup() * decode_speedup_ratio
        if burst <= 1.0:  # slower than plain decoding (a draft at high batch): no bursts, a slower clock
            return ["--decode-speedup-ratio", f"{burst:.4f}"]
        if burst >= k + 1:
            raise ValueError(f"{self.method}: a mean burst of {burst:.2f} tokens needs more than {k} drafts")
        alpha = alpha_for_length(burst, k)
        return ["--decode-speedup-ratio", "1.0", "--ais-nextn", str(k),
                "--ais-nextn-accept-rates", ",".join([f"{alpha:.4f}"] * k), "--ais-mtp-seed", str(MTP_SEED)]

    def label(self) -> str:
        if not self.enabled:
            return LABELS["none"]
        return (f"{LABELS[self.method]} (k={self.max_draft_len}, modelled ITL speed-up "
                f"{self.itl_speedup():.2f}x at {self.batch[1:]} sequences)")
