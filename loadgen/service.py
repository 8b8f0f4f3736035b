"""Wires settings, clients, corpus, engine and scenario together; one instance per running app."""

from __future__ import annotations

import asyncio
import random
import time

from loadgen.edge.admission import networks
from loadgen.edge.feed import Broadcaster
from loadgen.edge.views import PublicViews
from loadgen.control import ControlPlane
from loadgen.workload.conversations import ConversationStore
from loadgen.workload.corpus import default_corpus
from loadgen.workload.engine import Engine
from loadgen.events import TurnFeed
from loadgen.workload.followups import FollowupWriter
from loadgen.metrics import Metrics
from loadgen.workload.scenario import ScenarioController
from loadgen.schemas import WorkloadConfig
from loadgen.workload.sessions import SessionRunner
from loadgen.settings import Settings
from loadgen.stats.window import LiveStats, summarize
from loadgen.upstream.client import ClientPool
from loadgen.upstream.health import UpstreamHealth


class Service:
    """The load generator's state; created inside the app's lifespan so clients bind to its event loop."""

    def __init__(self, settings: Settings, *, seed: int | None = None) -> None:
        self.settings = settings
        self.started = time.time()
        self.rng = random.Random(seed)
        self.metrics = Metrics()
        self.store = ConversationStore(settings.max_kept_conversations)
        self.stats = LiveStats(window_s=settings.stats_window_s)
        self.clients = {router: ClientPool(url, read_timeout=settings.request_timeout_s) for router, url in settings.upstream_urls().items()}
        self.health = {router: UpstreamHealth(router, url) for router, url in settings.upstream_urls().items()}
        self.followups = FollowupWriter(
            metrics=self.metrics,
            api_key=settings.gradient_api_key,
            base_url=settings.followup_url,
            model=settings.followup_model,
            timeout_s=settings.followup_timeout_s,
            rng=random.Random(self.rng.random()),
        )
        self.runner = SessionRunner(
            clients=self.clients,
            model=settings.model,
            corpus=default_corpus(),
            followups=self.followups,
            metrics=self.metrics,
            stats=self.stats,
            timeout_s=settings.request_timeout_s,
            rng=random.Random(self.rng.random()),
        )
        self.runner.ttft_timeout_s = settings.ttft_timeout_s
        self.runner.health = self.health
        self.turns = TurnFeed()
        self.runner.on_turn = self._on_turn
        self.engine = Engine(runner=self.runner, store=self.store, metrics=self.metrics, rng=random.Random(self.rng.random()))
        self.engine.health = self.health
        self.defaults = WorkloadConfig() if "round-robin" in self.clients else WorkloadConfig(router="kv")
        self.engine.config = self.defaults
        self.scenario = ScenarioController(self.engine, self.metrics, speedup=settings.scenario_speedup, ab="round-robin" in self.clients,
                                           store=self.store, rng=random.Random(self.rng.random()))
        self.control = ControlPlane(self.engine, self.scenario, self.reset)
        self.broadcaster = Broadcaster(lambda: {"status": self.status(), "live": self.stats.snapshot()}, max_clients=settings.max_ws_clients,
                                       shared=networks(settings.shared_networks))
        self.broadcaster.start()
        self.views = PublicViews(self.store, summarize, self.stats.snapshot)
        self._publishing: set[asyncio.Task] = set()

    def _on_turn(self, record, conversation) -> None:
        """A request finished: keep its event (bounded) and send it to every WebSocket client."""
        event = self.turns.add(record, conversation)
        task = asyncio.get_running_loop().create_task(self.broadcaster.publish(event))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    def routers(self) -> list[str]:
        """Router values the control API accepts with the configured frontends."""
        return ["kv", "round-robin", "ab"] if "round-robin" in self.clients else ["kv"]

    async def aclose(self) -> None:
        await self.broadcaster.aclose()
        await self.scenario.stop()
        for client in self.clients.values():
            await client.aclose()
        await self.followups.aclose()

    def reset(self) -> None:
        """Forget finished conversations, live samples and counters (Prometheus series stay monotonic)."""
        self.store.clear()
        self.stats.clear()
        self.turns.clear()
        self.engine.tally.clear()
        self.runner.tally.clear()
        self.runner.errors_by_kind.clear()
        self.followups.fallbacks = 0
        self.followups.remote = 0

    def status(self, detail: bool = False) -> dict:
        """Running state, config, scenario state and counters (GET /api/status). `detail` (the token holder, the
        internal port) adds what only operators need: the upstream URLs and error texts."""
        engine, runner = self.engine, self.runner
        scenario = self.scenario.state()  # first: it applies a due phase change to the config reported below
        return {
            "running": engine.running,
            "state": engine.state,
            "run": engine.run,
            "config": engine.config.model_dump(),
            "arrivalRates": {k: round(v, 6) for k, v in engine.config.session_rates().items()},
            "defaults": self.defaults.model_dump(),
            "scenario": scenario,
            "model": self.settings.model,
            "routers": self.routers(),
            "authRequired": bool(self.settings.control_token),
            "upstreams": {router: health.state(detail) for router, health in self.health.items()},
            "control": self.control.tasks(),
            "followupSource": "gradient" if self.followups.enabled else "templates",
            "uptimeSeconds": round(time.time() - self.started, 1),
            "counters": {
                "sessionsStarted": engine.tally["sessions_started"],
                "runSessionsStarted": engine.run_started,
                "sessionsCompleted": engine.tally["sessions_completed"],
                "sessionsError": engine.tally["sessions_error"],
                "sessionsCancelled": engine.tally["sessions_cancelled"],
                "arrivalsSkipped": engine.tally["arrivals_skipped"],
                "arrivalsHeldBack": engine.tally["arrivals_backoff"],
                "activeSessions": engine.active_sessions,
                "activeByRouter": {r: engine.active[r] for r in ("kv", "round-robin")},
                "inflightRequests": sum(runner.inflight.values()),
                "inflightByRouter": {r: runner.inflight[r] for r in ("kv", "round-robin")},
                "requestsOk": runner.tally["requests_ok"],
                "requestsError": runner.tally["requests_error"],
                "errorsByKind": dict(runner.errors_by_kind),
                "followupFallbacks": self.followups.fallbacks,
                "followupsRemote": self.followups.remote,
                "keptConversations": len(self.store),
                "liveSamples": len(self.stats),
                "turnEvents": len(self.turns),
            },
        }
