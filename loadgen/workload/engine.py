"""Open-loop arrival scheduler: Poisson session starts at the configured rate, capped by maxConcurrency."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import Counter as Tally
from itertools import cycle

from loadgen.workload.conversations import Conversation, ConversationStore
from loadgen.metrics import Metrics
from loadgen.schemas import WorkloadConfig
from loadgen.workload.sessions import ChatPlan, SessionRunner

log = logging.getLogger("loadgen.workload.engine")
ARRIVALS_TASK = "loadgen-arrivals"


async def cancel_and_join(task: asyncio.Task) -> None:
    """Cancel until the task is really done (a cancel swallowed by library code must not leave it running)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)


class Engine:
    """Starts sessions as a Poisson process; config changes take effect at the next arrival."""

    def __init__(self, *, runner: SessionRunner, store: ConversationStore, metrics: Metrics, rng: random.Random) -> None:
        self.runner = runner
        self.store = store
        self.metrics = metrics
        self.rng = rng
        self.config = WorkloadConfig()
        self.state = "idle"  # idle | running | draining | finished | stopped
        self.run = 0
        self.run_started = 0
        self.tally: Tally[str] = Tally()
        self.active: Tally[str] = Tally()
        self._sessions: set[asyncio.Task] = set()
        self._open: Tally[str] = Tally()  # sessions per router, counted from arrival (the cap's count)
        self._arrivals: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._ab = cycle(("kv", "round-robin"))
        self._twin: tuple[ChatPlan, str] | None = None  # A/B: the plan still owed to the other router
        self._pairs = 0
        self.slice_tag: str | None = None  # auto mode's current time slice; new conversations carry it
        self.lag_max_s = 0.0  # how late arrivals fire versus their Poisson schedule (benchmark figure)
        self.lag_total_s = 0.0
        self.arrivals = 0
        self.health: dict = {}  # router -> UpstreamHealth: a frontend that is down gets one probe session per backoff

    @property
    def running(self) -> bool:
        return self.state in ("running", "draining")

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    async def start(self, config: WorkloadConfig) -> None:
        """Begin a new run, or retune the current one."""
        if self.state == "running":
            self.update(config)
            return
        await self.stop(final_state=self.state)
        self.config = config
        self.run += 1
        self.run_started = 0
        self.state = "running"
        self.metrics.target_rps.set(config.totalRPS)
        self._arrivals = asyncio.create_task(self._arrival_loop(), name=ARRIVALS_TASK)

    def update(self, config: WorkloadConfig) -> None:
        """Apply a new config; the arrival loop redraws its next gap at once."""
        self.config = config
        if self.state == "running":
            self.metrics.target_rps.set(config.totalRPS)
        self._wake.set()

    def begin_slice(self, config: WorkloadConfig, seed: int, tag: str) -> None:
        """Start a time slice: arrivals and conversation plans are drawn from `seed`, so two slices given the
        same seed get the same arrival times, documents, turn counts and think times (equal offered load);
        each conversation's texts stay salted by its own id, so no cache is shared between slices."""
        self.rng.seed(seed)
        self.runner.rng.seed(seed)
        self._twin = None
        self.slice_tag = tag
        self.update(config)

    async def drain(self, timeout_s: float) -> int:
        """Wait until every session has ended (arrivals must already be at rate 0); sessions still going after
        `timeout_s` are cancelled. Returns how many were cancelled."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(set(self._sessions), timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        left = list(self._sessions)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        return len(left)

    async def stop(self, final_state: str = "stopped") -> None:
        """Stop arrivals and cancel every session in progress."""
        if self._arrivals is not None:
            await cancel_and_join(self._arrivals)
            self._arrivals = None
        sessions = list(self._sessions)
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)
        self._twin = None
        if self.state != "idle":
            self.state = final_state
        self.metrics.target_rps.set(0)

    def _pick_router(self) -> str:
        if self.config.router == "ab":
            return next(self._ab)
        return self.config.router

    def _chat_plan(self) -> tuple[ChatPlan, str]:
        """(plan, router). A/B: every plan runs once per router; which router goes first alternates per pair."""
        if self.config.router != "ab":
            return self.runner.plan(self.config), self.config.router
        if self._twin is not None:
            twin, self._twin = self._twin, None
            return twin
        first, second = ("kv", "round-robin") if self._pairs % 2 == 0 else ("round-robin", "kv")
        self._pairs += 1
        plan = self.runner.plan(self.config)
        self._twin = (plan, second)
        return plan, first

    def _pick_workload(self, rates: dict[str, float]) -> str:
        names = [name for name, rate in rates.items() if rate > 0]
        return self.rng.choices(names, weights=[rates[n] for n in names])[0]

    async def _arrival_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            cfg = self.config
            if cfg.maxConversations is not None and self.run_started >= cfg.maxConversations:
                break
            rates = cfg.session_rates()
            total = sum(rates.values())
            if total <= 0:
                self._wake.clear()
                await self._wake.wait()
                next_at = loop.time()
                continue
            next_at += self.rng.expovariate(total)
            delay = next_at - loop.time()
            if delay > 0:
                self._wake.clear()
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands as the
                    # event fires, and the loop then outlived Stop.
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                    next_at = loop.time()  # config changed: memoryless, so redraw from now
                    continue
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)  # behind schedule: catch up, but let sessions run
            lag = max(0.0, loop.time() - next_at)
            self.lag_max_s = max(self.lag_max_s, lag)
            self.lag_total_s += lag
            self.arrivals += 1
            self._arrive(self._pick_workload(rates))
        self.state = "draining"
        while self._sessions:
            await asyncio.gather(*list(self._sessions), return_exceptions=True)
        self.state = "finished"
        self.metrics.target_rps.set(0)

    @staticmethod
    def router_share(cfg: WorkloadConfig) -> int:
        """Sessions one router may have open. Side by side, each router has half of maxConcurrency: a frozen
        frontend's stuck sessions then fill only its own half, and the other router keeps running (re-audit:
        a frozen round-robin frontend stopped every KV completion for 60 s through the shared cap)."""
        return max(1, -(-cfg.maxConcurrency // 2)) if cfg.router == "ab" else cfg.maxConcurrency

    def _arrive(self, workload: str) -> None:
        cfg = self.config
        plan = None
        if workload == "chat":
            plan, router = self._chat_plan()
        else:
            router = self._pick_router()
        if self._open[router] >= self.router_share(cfg):
            self.tally["arrivals_skipped"] += 1
            self.metrics.skipped.labels(workload=workload).inc()
            return
        if router in self.health and not self.health[router].admit():
            self.tally["arrivals_backoff"] += 1
            return
        turns = plan.turns if plan is not None else 1
        conv = Conversation(id=uuid.uuid4().hex[:12], run=self.run, workload=workload, router=router, planned_turns=turns, source="",
                            plan=plan, slice=self.slice_tag)
        self.store.add(conv)
        self.run_started += 1
        self.tally["sessions_started"] += 1
        task = asyncio.create_task(self._session(conv, cfg), name=f"session-{conv.id}")
        self._sessions.add(task)
        self._open[router] += 1
        task.add_done_callback(lambda done, router=router: self._closed(done, router))

    def _closed(self, task: asyncio.Task, router: str) -> None:
        self._sessions.discard(task)
        self._open[router] -= 1

    async def _session(self, conv: Conversation, cfg: WorkloadConfig) -> None:
        router = conv.router
        self.active[router] += 1
        self.metrics.active.labels(router=router).inc()
        outcome = "error"
        try:
            outcome = await self.runner.run(conv, cfg)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:  # a bug in one session must not take the service down
            log.exception("session %s failed", conv.id)
        finally:
            self.active[router] -= 1
            self.metrics.active.labels(router=router).dec()
            conv.finish(outcome)
            self.store.finished(conv)
            self.tally[f"sessions_{outcome}"] += 1
            self.metrics.conversations.labels(workload=conv.workload, router=router, outcome=outcome).inc()
