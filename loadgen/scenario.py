"""Auto mode for the unattended booth: WARM_UP -> STEADY_AB -> HIGH_LOAD -> COOL_DOWN, looped, each phase with a caption.

Every phase runs KV-aware and round-robin side by side on the same conversations (router "ab"), so
the audience always sees both; the phases change only the offered load, and each caption says what
to watch. The first four minutes (warm-up, steady A/B, the first minute of high load) are what the
booth's acceptance check measures; the seeds' 60/120/90/60 s rhythm is kept.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from .engine import Engine, cancel_and_join
from .metrics import Metrics
from .schemas import Mix, WorkloadConfig


@dataclass(frozen=True)
class Phase:
    name: str
    label: str
    description: str  # the one-line caption shown on the booth screen
    duration_s: float
    rps: float
    max_concurrency: int


PHASES: tuple[Phase, ...] = (
    Phase("WARM_UP", "Warm-up", "New conversations paste a ~7k-token file: turn 1 costs the same on both routers (nothing is cached yet).", 60, 1.0, 8),
    Phase("STEADY_AB", "Steady A/B", "Same conversations on both routers: KV-aware sends each follow-up to the replica that holds its history.", 120, 1.5, 12),
    Phase("HIGH_LOAD", "High load", "Round-robin re-prefills whole histories and queues behind them; KV-aware serves follow-ups from cache.", 90, 3.0, 24),
    Phase("COOL_DOWN", "Cool-down", "Load drops. The gap sits on turn 2: with 2 replicas round-robin finds the cache half the time.", 60, 0.5, 4),
)
SCENARIO_TASK = "loadgen-scenario"
IDLE = Phase("IDLE", "Idle", "Auto mode stopped", 0, 0.0, 0)
CHAT = {"a": 1.0, "b": 0.0, "c": 0.0}
# One click (and the key in `key`) each; every preset runs both routers side by side.
PRESETS = (
    {"id": "booth", "key": "1", "label": "Long-context chat", "hint": "2 RPS · 7k-token files", "totalRPS": 2.0, "mix": CHAT, "maxConcurrency": 16, "openingTokens": 7000},
    {"id": "busy", "key": "2", "label": "High load", "hint": "3 RPS · 7k-token files", "totalRPS": 3.0, "mix": CHAT, "maxConcurrency": 24, "openingTokens": 7000},
    {"id": "short", "key": "3", "label": "Short prompts", "hint": "2 RPS · 500 tokens: little to save", "totalRPS": 2.0, "mix": CHAT, "maxConcurrency": 16, "openingTokens": 500},
    {"id": "summarize", "key": "4", "label": "Summarization", "hint": "1 RPS · one long document each", "totalRPS": 1.0, "mix": {"a": 0.0, "b": 1.0, "c": 0.0}, "maxConcurrency": 8},
    {"id": "reasoning", "key": "5", "label": "Reasoning", "hint": "1 RPS · long answers", "totalRPS": 1.0, "mix": {"a": 0.0, "b": 0.0, "c": 1.0}, "maxConcurrency": 8},
)
PRESET_FIELDS = ("totalRPS", "mix", "maxConcurrency", "openingTokens")


def preset_patch(preset: dict, ab: bool) -> dict:
    """The WorkloadPatch body a preset applies (both routers whenever a baseline frontend exists)."""
    patch = {k: preset[k] for k in PRESET_FIELDS if k in preset}
    if ab:
        patch["router"] = "ab"
    return patch


def phase_at(elapsed_s: float, speedup: float = 1.0, phases: tuple[Phase, ...] = PHASES) -> tuple[int, float, int]:
    """(phase index, seconds left in it, cycle number from 1) after `elapsed_s` of auto mode."""
    durations = [p.duration_s / speedup for p in phases]
    cycle_len = sum(durations)
    cycle, into = divmod(max(elapsed_s, 0.0), cycle_len)
    for index, duration in enumerate(durations):
        if into < duration:
            return index, duration - into, int(cycle) + 1
        into -= duration
    return len(phases) - 1, 0.0, int(cycle) + 1  # float edge


class ScenarioController:
    """Drives the engine's rate and concurrency from the phase table while auto mode is on."""

    def __init__(self, engine: Engine, metrics: Metrics, speedup: float = 1.0, tick_s: float = 0.2, ab: bool = True) -> None:
        self.engine = engine
        self.ab = ab
        self.metrics = metrics
        self.speedup = speedup
        self.tick_s = tick_s
        self._task: asyncio.Task | None = None
        self._started_at = 0.0
        self._applied: int | None = None
        self._set_phase_metric(IDLE.name)

    @property
    def auto(self) -> bool:
        return self._task is not None

    def _config_for(self, phase: Phase) -> WorkloadConfig:
        data = self.engine.config.model_dump()
        data.update(totalRPS=phase.rps, maxConcurrency=phase.max_concurrency, mix=Mix(a=1.0, b=0.0, c=0.0).model_dump())
        if self.ab:  # the booth always shows both routers on the same conversations
            data["router"] = "ab"
        data["maxConversations"] = None
        return WorkloadConfig.model_validate(data)

    async def start_auto(self) -> None:
        """(Re)start the cycle at WARM_UP."""
        await self._cancel_tick()
        self._started_at = asyncio.get_running_loop().time()
        self._applied = 0
        await self.engine.start(self._config_for(PHASES[0]))
        self._set_phase_metric(PHASES[0].name)
        self._task = asyncio.create_task(self._tick(), name=SCENARIO_TASK)

    async def to_manual(self) -> None:
        """Leave auto mode; the workload keeps its current settings."""
        await self._cancel_tick()
        self._set_phase_metric(IDLE.name)

    async def stop(self) -> None:
        """Leave auto mode and stop the workload."""
        await self.to_manual()
        await self.engine.stop()

    async def _cancel_tick(self) -> None:
        if self._task is not None:
            await cancel_and_join(self._task)
            self._task = None
        self._applied = None

    def _sync(self) -> tuple[int, float, int]:
        """Apply the phase the clock says we are in (idempotent); returns phase_at()."""
        index, left, cycle = phase_at(asyncio.get_running_loop().time() - self._started_at, self.speedup)
        if index != self._applied:
            self._applied = index
            self.engine.update(self._config_for(PHASES[index]))
            self._set_phase_metric(PHASES[index].name)
        return index, left, cycle

    async def _tick(self) -> None:
        while True:
            self._sync()
            await asyncio.sleep(self.tick_s)

    def _set_phase_metric(self, current: str) -> None:
        for phase in (IDLE, *PHASES):
            self.metrics.scenario_phase.labels(phase=phase.name).set(1 if phase.name == current else 0)

    def state(self) -> dict:
        """Phase, label, description, countdown (s), cycle; IDLE when auto mode is off."""
        phases = [
            {"name": p.name, "label": p.label, "durationSeconds": p.duration_s / self.speedup, "totalRPS": p.rps, "maxConcurrency": p.max_concurrency}
            for p in PHASES
        ]
        if not self.auto:
            return {"mode": "manual", "phase": IDLE.name, "label": IDLE.label, "description": IDLE.description, "countdown": None, "cycle": 0, "phases": phases}
        index, left, cycle = self._sync()  # so the reported phase and the applied config always agree
        phase = PHASES[index]
        return {
            "mode": "auto",
            "phase": phase.name,
            "label": phase.label,
            "description": phase.description,
            "countdown": math.ceil(left),
            "phaseSeconds": phase.duration_s / self.speedup,
            "cycle": cycle,
            "phases": phases,
        }
