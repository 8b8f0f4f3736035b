"""Auto mode for the unattended booth: cycles RAMP_UP -> STEADY_STATE -> HIGH_LOAD -> COOLDOWN with countdown and cycle count."""

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
    description: str
    duration_s: float
    rps: float
    max_concurrency: int


PHASES: tuple[Phase, ...] = (
    Phase("RAMP_UP", "Ramp Up", "Gradually increasing multi-turn conversations", 60, 1.0, 5),
    Phase("STEADY_STATE", "Steady State", "Stable multi-turn chat load", 120, 2.0, 10),
    Phase("HIGH_LOAD", "High Load", "Increased concurrency stressing the system", 90, 4.0, 20),
    Phase("COOLDOWN", "Cooldown", "Decreasing to baseline", 60, 0.5, 5),
)
SCENARIO_TASK = "loadgen-scenario"
IDLE = Phase("IDLE", "Idle", "Auto mode stopped", 0, 0.0, 0)
PRESETS = (
    {"id": "light", "label": "Light Load", "totalRPS": 1.0, "mix": {"a": 1.0, "b": 0.0, "c": 0.0}, "maxConcurrency": 5},
    {"id": "moderate", "label": "Moderate Load", "totalRPS": 2.0, "mix": {"a": 1.0, "b": 0.0, "c": 0.0}, "maxConcurrency": 10},
    {"id": "heavy", "label": "Heavy Load", "totalRPS": 4.0, "mix": {"a": 1.0, "b": 0.0, "c": 0.0}, "maxConcurrency": 20},
)


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

    def __init__(self, engine: Engine, metrics: Metrics, speedup: float = 1.0, tick_s: float = 0.2) -> None:
        self.engine = engine
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
        data["maxConversations"] = None
        return WorkloadConfig.model_validate(data)

    async def start_auto(self) -> None:
        """(Re)start the cycle at RAMP_UP."""
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
