"""Auto mode for the unattended booth: WARM_UP -> STEADY -> HIGH_LOAD -> COOL_DOWN, looped, each phase with a caption.

Time slices (the default): in every phase the replicas belong to one router at a time, as they would for a
user who chose that router. A phase is one KV-aware slice and one round-robin slice at the same offered load,
drawn from the same seed (same arrival times, documents, turn counts and think times; each conversation's
texts salted by its own id, so the slices share no cache). A slice takes arrivals for half the phase, then
drains: the next slice starts only when every conversation of this one has ended, so a conversation's turns
stay within its slice. Which router goes first alternates per cycle. The booth compares completed twin slices
(loadgen.stats.slices).

Side by side (`side_by_side=True`): the old mode, both routers on the same conversations at once, sharing the
replicas; kept as a labelled alternative (the routers then also queue behind each other's work).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from dataclasses import dataclass

from loadgen.workload.conversations import ConversationStore
from loadgen.workload.engine import Engine, cancel_and_join
from loadgen.metrics import Metrics
from loadgen.schemas import Mix, WorkloadConfig
from loadgen.stats.slice_pool import pool
from loadgen.stats.slices import SliceResult, compare, summarize


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
    Phase("STEADY_AB", "Steady A/B", "Same conversations, one router at a time: KV-aware sends each follow-up to the replica holding its history.", 120, 1.5, 12),
    Phase("HIGH_LOAD", "High load", "Twice the load: round-robin re-prefills histories; KV-aware still hits cache but waits behind new conversations.", 90, 3.0, 24),
    Phase("COOL_DOWN", "Cool-down", "Load drops. The gap sits on turn 2: with 2 replicas round-robin finds the cache half the time.", 60, 0.5, 4),
)
log = logging.getLogger("loadgen.workload.scenario")
SLICE_ROUTERS = ("kv", "round-robin")
DRAIN_TIMEOUT_S = 120.0  # a slice's conversations must end within this after its arrivals stop
KEPT_SLICES = 32
SCENARIO_TASK = "loadgen-scenario"
IDLE = Phase("IDLE", "Idle", "Auto mode stopped", 0, 0.0, 0)
CHAT = {"a": 1.0, "b": 0.0, "c": 0.0}
# One click (and the key in `key`) each; every preset runs both routers side by side on the shared replicas
# (the page labels them so); auto mode is the time-sliced comparison.
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


@dataclass
class Live:
    """What auto mode is doing right now (for the status and the page)."""

    phase: int
    cycle: int
    router: str | None  # the router holding the replicas; None side by side
    ends_at: float  # loop time its arrivals stop (slice) or the phase ends (side by side)
    draining: bool = False


class ScenarioController:
    """Runs the phase table while auto mode is on: time slices by default, side by side on request."""

    def __init__(self, engine: Engine, metrics: Metrics, speedup: float = 1.0, ab: bool = True,
                 store: ConversationStore | None = None, drain_timeout_s: float = DRAIN_TIMEOUT_S,
                 rng: random.Random | None = None) -> None:
        self.engine = engine
        self.ab = ab
        self.metrics = metrics
        self.speedup = speedup
        self.store = store
        self.drain_timeout_s = drain_timeout_s
        self.side_by_side = False
        self.slices: deque[SliceResult] = deque(maxlen=KEPT_SLICES)
        self._slices_version = 0  # bumped whenever `slices` changes: the pooled figures are cached by it
        self._pooled: dict = {}
        self._pooled_version = -1
        self._task: asyncio.Task | None = None
        self._live: Live | None = None
        self._rng = rng or random.Random()  # draws each auto run's slice seeds (the service's seed makes runs repeatable)
        self._seeds = random.Random()
        self._set_phase_metric(IDLE.name)

    @property
    def auto(self) -> bool:
        return self._task is not None

    @property
    def sliced(self) -> bool:
        return self.ab and not self.side_by_side

    def _config_for(self, phase: Phase, router: str | None = None, rps: float | None = None) -> WorkloadConfig:
        data = self.engine.config.model_dump()
        data.update(totalRPS=phase.rps if rps is None else rps, maxConcurrency=phase.max_concurrency,
                    mix=Mix(a=1.0, b=0.0, c=0.0).model_dump())
        if router is not None:
            data["router"] = router
        elif self.ab:  # side by side: both routers on the same conversations
            data["router"] = "ab"
        data["maxConversations"] = None
        return WorkloadConfig.model_validate(data)

    async def start_auto(self, side_by_side: bool = False, seed: int | None = None) -> None:
        """(Re)start the cycle at WARM_UP; `seed` fixes the slices' seeds (tests, benchmarks)."""
        await self._cancel_tick()
        self.side_by_side = side_by_side
        self._seeds = random.Random(self._rng.random() if seed is None else seed)
        self.slices.clear()
        self._slices_version += 1
        first = PHASES[0]
        # Sliced: arrivals start at rate 0 and each slice sets its own rate once the engine runs.
        await self.engine.start(self._config_for(first, router=SLICE_ROUTERS[0], rps=0.0) if self.sliced else self._config_for(first))
        now = asyncio.get_running_loop().time()
        self._live = (Live(0, 1, SLICE_ROUTERS[0], now + first.duration_s / 2 / self.speedup) if self.sliced
                      else Live(0, 1, None, now + first.duration_s / self.speedup))
        self._task = asyncio.create_task(self._run(), name=SCENARIO_TASK)

    async def to_manual(self) -> None:
        """Leave auto mode; the workload keeps its current settings (a slice's router and rate)."""
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
        self._live = None
        self.engine.slice_tag = None

    async def _run(self) -> None:
        cycle = 0
        while True:
            cycle += 1
            for index, phase in enumerate(PHASES):
                self._set_phase_metric(phase.name)
                try:
                    if self.sliced:
                        await self._sliced_phase(index, phase, cycle)
                    else:
                        await self._side_by_side_phase(index, phase, cycle)
                except Exception:  # a bug in one phase must not end the booth's loop
                    log.exception("auto mode: phase %s of cycle %d failed; going on with the next", phase.name, cycle)

    async def _side_by_side_phase(self, index: int, phase: Phase, cycle: int) -> None:
        loop = asyncio.get_running_loop()
        self._live = Live(index, cycle, None, loop.time() + phase.duration_s / self.speedup)
        self.engine.update(self._config_for(phase))
        await asyncio.sleep(phase.duration_s / self.speedup)

    async def _sliced_phase(self, index: int, phase: Phase, cycle: int) -> None:
        seed = self._seeds.randrange(2**31)
        order = SLICE_ROUTERS if cycle % 2 else tuple(reversed(SLICE_ROUTERS))
        done: dict[str, SliceResult] = {}
        for router in order:
            done[router] = await self._slice(index, phase, cycle, router, seed)
        self._record(compare(done["kv"], done["round-robin"]))

    async def _slice(self, index: int, phase: Phase, cycle: int, router: str, seed: int) -> SliceResult:
        loop = asyncio.get_running_loop()
        arrivals_s = phase.duration_s / 2 / self.speedup
        tag = f"c{cycle}-{phase.name}-{router}"
        started = time.time()
        self._live = Live(index, cycle, router, loop.time() + arrivals_s)
        self.engine.begin_slice(self._config_for(phase, router=router), seed, tag)
        await asyncio.sleep(arrivals_s)
        self._live.draining = True
        self.engine.update(self._config_for(phase, router=router, rps=0.0))
        cancelled = await self.engine.drain(self.drain_timeout_s)
        conversations = self.store.query(workload="chat") if self.store is not None else []
        result = summarize(conversations, tag=tag, cycle=cycle, phase=phase.name, router=router, seed=seed,
                           started_at=started, ended_at=time.time(), cancelled=cancelled)
        self.slices.append(result)
        self._slices_version += 1
        return result

    def _record(self, pair: dict) -> None:
        """The twins' medians and ratios as Prometheus gauges (Grafana shows them beside the live histograms)."""
        for key, router in (("kv", "kv"), ("roundRobin", "round-robin")):
            for turns, ms in pair[key]["ttftMeanMs"].items():
                if ms is not None:
                    self.metrics.slice_ttft.labels(phase=pair["phase"], router=router, turns=turns).set(ms / 1000)
        for turns, ratio in pair["ratio"].items():
            if ratio is not None:
                self.metrics.slice_ratio.labels(phase=pair["phase"], turns=turns).set(ratio)

    def _twins(self) -> list[tuple[SliceResult, SliceResult]]:
        """Completed twin slices, oldest first: (KV, round-robin) on the same seed."""
        by_seed: dict[tuple[int, str, int], dict[str, SliceResult]] = {}
        for result in self.slices:
            by_seed.setdefault((result.cycle, result.phase, result.seed), {})[result.router] = result
        return [(twins["kv"], twins["round-robin"]) for twins in by_seed.values() if len(twins) == 2]

    def comparisons(self) -> list[dict]:
        """Completed twin slices, newest first: KV against round-robin on the same seed."""
        return [compare(kv, rr) for kv, rr in reversed(self._twins())]

    def pooled(self) -> dict:
        """Every completed twin pair so far, pooled with intervals (loadgen.stats.slice_pool): the page's one number
        source. Recomputed only when a slice completes."""
        if self._pooled_version != self._slices_version:
            self._pooled = pool([(kv.turn_ttfts, rr.turn_ttfts) for kv, rr in self._twins()])
            self._pooled_version = self._slices_version
        return self._pooled

    def _set_phase_metric(self, current: str) -> None:
        for phase in (IDLE, *PHASES):
            self.metrics.scenario_phase.labels(phase=phase.name).set(1 if phase.name == current else 0)

    def state(self) -> dict:
        """Mode, phase, caption, the router holding the replicas, countdown (s), cycle, completed comparisons."""
        phases = [
            {"name": p.name, "label": p.label, "durationSeconds": p.duration_s / self.speedup, "totalRPS": p.rps, "maxConcurrency": p.max_concurrency}
            for p in PHASES
        ]
        if not self.auto or self._live is None:
            return {"mode": "manual", "phase": IDLE.name, "label": IDLE.label, "description": IDLE.description, "countdown": None,
                    "cycle": 0, "phases": phases, "comparison": "sliced" if self.sliced else "side-by-side",
                    "live": None, "slices": self.comparisons(), "pooled": self.pooled()}
        live = self._live
        phase = PHASES[live.phase]
        left = max(0.0, live.ends_at - asyncio.get_running_loop().time())
        return {
            "mode": "auto",
            "comparison": "sliced" if self.sliced else "side-by-side",
            "phase": phase.name,
            "label": phase.label,
            "description": phase.description,
            "countdown": None if live.draining else math.ceil(left),
            "phaseSeconds": phase.duration_s / self.speedup,
            "cycle": live.cycle,
            "live": {"router": live.router, "draining": live.draining,
                     "sliceSeconds": phase.duration_s / 2 / self.speedup if live.router else None},
            "phases": phases,
            "slices": self.comparisons(),
            "pooled": self.pooled(),
        }
