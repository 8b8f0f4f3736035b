"""Every state-changing action of the control API behind one asyncio lock.

Start, config, stop, reset and the auto-mode switches all await (they cancel and join tasks), so without a lock
two of them interleave: a double-clicked Start after a finished run made two arrival loops and orphaned one
that no Stop could reach, and two Auto clicks left a hidden phase timer overriding manual settings. Holding
the lock across each whole action makes them run one after another; `tasks()` counts the loops and timers
that actually exist in the event loop, so status can show the invariant (at most one of each).
"""

from __future__ import annotations

import asyncio

from loadgen.workload.engine import ARRIVALS_TASK, Engine
from loadgen.workload.scenario import SCENARIO_TASK, ScenarioController
from loadgen.schemas import WorkloadConfig, WorkloadPatch


class ControlPlane:
    """The only way the HTTP layer changes the workload; `merge` validates a patch against the service first."""

    def __init__(self, engine: Engine, scenario: ScenarioController, reset) -> None:
        self.engine = engine
        self.scenario = scenario
        self._reset = reset
        self.lock = asyncio.Lock()

    async def start(self, config: WorkloadConfig) -> None:
        async with self.lock:
            if self.scenario.auto:
                await self.scenario.to_manual()
            await self.engine.start(config)

    async def configure(self, config: WorkloadConfig, patch: WorkloadPatch) -> None:
        async with self.lock:
            if self.scenario.auto and patch.touches_load_shape():
                await self.scenario.to_manual()
            self.engine.update(config)

    async def stop(self) -> None:
        async with self.lock:
            await self.scenario.stop()

    async def reset(self) -> None:
        async with self.lock:
            self._reset()

    async def auto(self, side_by_side: bool = False) -> None:
        async with self.lock:
            await self.scenario.start_auto(side_by_side=side_by_side)

    async def manual(self) -> None:
        async with self.lock:
            await self.scenario.to_manual()

    @staticmethod
    def tasks() -> dict[str, int]:
        """Live arrival loops and phase timers in this event loop (never more than one of each)."""
        names = [t.get_name() for t in asyncio.all_tasks() if not t.done()]
        return {"arrivalLoops": names.count(ARRIVALS_TASK), "phaseTimers": names.count(SCENARIO_TASK)}
