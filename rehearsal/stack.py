"""The rehearsal stack: event broker, mocker workers, two Dynamo frontends, load generator.

One class used by the launcher, the end-to-end test and the benchmark, so all
three run the same processes with the same flags. Everything binds 127.0.0.1.

Each worker is its own `dynamo.mocker` process (like one worker pod in the cluster), with
Dynamo's system server on its own port: /health, /live and /metrics, as the cluster's
probes and PodMonitor use them. A worker that dies after the stack was ready is
restarted by the supervisor (see rehearsal.supervisor).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from rehearsal import calibration, event_broker
from rehearsal.ports import pick_free, pick_free_system_ports, require_free
from rehearsal.speculative import SpecDecoding
from rehearsal.settings import (
    BOOTH,
    DEFAULT_KV_PORT,
    DEFAULT_RR_PORT,
    DEFAULT_UI_PORT,
    DEFAULT_WORKERS,
    HOST,
    MAX_NUM_TOKENS,
    MIGRATION_LIMIT,
    MODEL_NAME,
    PLANE_ARGS,
    TOKENIZER_DIR,
    MockerTiming,
    RouterSettings,
    engine_limit_args,
)
from rehearsal.supervisor import Supervisor

# Dynamo picks ephemeral ports for its TCP request/response planes and system
# server; these knobs make it bind (and advertise) loopback only.
LOOPBACK_ENV = {
    "DYN_TCP_RPC_HOST": HOST,
    "DYN_TCP_RESPONSE_STREAM_HOST": HOST,
    "DYN_EVENT_PLANE_HOST": HOST,
    "DYN_SYSTEM_HOST": HOST,
    "DYN_HTTP_RPC_HOST": HOST,
    "DYN_HTTP_HOST": HOST,
}
# Each worker's system server, as the Dynamo operator configures worker pods: the status follows the
# `generate` endpoint's health, so /health and /live answer 503 until the worker serves (ai-dynamo 1.6.1
# runtime defaults: paths /health and /live, starting status notready).
WORKER_SYSTEM_ENV = {
    "DYN_SYSTEM_ENABLED": "true",
    "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS": '["generate"]',
}
# An address nothing listens on: the rehearsal never calls the hosted follow-up model.
OFFLINE_FOLLOWUP_URL = "http://127.0.0.1:9/v1"


POOL_NAMESPACES = {"kv": "booth-kv-pool", "round-robin": "booth-rr-pool"}


class NotReady(RuntimeError):
    """The stack did not become ready within its timeout."""


@dataclass
class StackConfig:
    kv_port: int = DEFAULT_KV_PORT
    rr_port: int = DEFAULT_RR_PORT
    ui_port: int | None = DEFAULT_UI_PORT  # None: no load generator (benchmark drives traffic itself)
    # The load generator's internal port (/metrics, the API document); picked free at start when unset.
    ui_metrics_port: int | None = None
    workers: int = DEFAULT_WORKERS
    router: RouterSettings = BOOTH
    timing: MockerTiming = field(default_factory=MockerTiming)
    spec: SpecDecoding = field(default_factory=SpecDecoding)  # speculative decoding the mockers model
    itl_runs_file: Path | None = None  # where the load generator keeps saved ITL runs across restarts
    python: str = sys.executable
    log_level: str = "warn"
    extra_mocker_args: tuple[str, ...] = ()
    # Fresh per rehearsal: the UI's control API is never open, even on loopback (any web page can post there).
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    loadgen_args: tuple[str, ...] = ()  # extra `loadgen serve` flags (the e2e test shortens auto mode)
    # "shared": both frontends route over the same `workers` replicas, as in the cloud DGD. "per-router":
    # a diagnostic only (bench.booth --pools per-router): each frontend gets its own `workers` replicas
    # (Dynamo namespaces), to measure how much round-robin's prefills slow KV's cache hits when shared.
    pools: Literal["shared", "per-router"] = "shared"

    def worker_namespaces(self) -> list[str | None]:
        """The Dynamo namespace each mocker registers in (None: the default one both frontends see)."""
        if self.pools == "shared":
            return [None] * self.workers
        return [POOL_NAMESPACES["kv"]] * self.workers + [POOL_NAMESPACES["round-robin"]] * self.workers

    def frontend_namespace_args(self, router: str) -> list[str]:
        return [] if self.pools == "shared" else ["--namespace", POOL_NAMESPACES[router]]

    @property
    def kv_url(self) -> str:
        return f"http://{HOST}:{self.kv_port}"

    @property
    def rr_url(self) -> str:
        return f"http://{HOST}:{self.rr_port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.ui_port is None else f"http://{HOST}:{self.ui_port}"

    @property
    def ui_login_url(self) -> str | None:
        """The UI with the token in the fragment (the page stores it and clears the address bar; never sent)."""
        return None if self.ui_url is None else f"{self.ui_url}/#token={self.control_token}"

    @property
    def ui_metrics_url(self) -> str | None:
        """Where Prometheus scrapes the load generator (its public port does not serve /metrics)."""
        return None if self.ui_port is None or self.ui_metrics_port is None else f"http://{HOST}:{self.ui_metrics_port}"

    @property
    def control_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.control_token}"}

    def public_ports(self) -> dict[str, int]:
        ports = {"KV frontend": self.kv_port, "round-robin frontend": self.rr_port}
        if self.ui_port is not None:
            ports["load generator UI"] = self.ui_port
        return ports


def configs_on_free_ports(count: int, **fields) -> list[StackConfig]:
    """`count` rehearsal configs, each with its own KV, round-robin and UI ports (picked in one call: distinct)."""
    ports = pick_free(3 * count)
    return [StackConfig(kv_port=kv, rr_port=rr, ui_port=ui, **fields) for kv, rr, ui in zip(*[iter(ports)] * 3)]


@dataclass
class Readiness:
    """What the launcher shows while waiting: workers seen by each frontend, UI up."""

    kv_workers: int = 0
    rr_workers: int = 0
    kv_model: bool = False
    rr_model: bool = False
    ui: bool = False

    def done(self, workers: int, want_ui: bool) -> bool:
        return (
            self.kv_model and self.rr_model
            and self.kv_workers >= workers and self.rr_workers >= workers
            and (self.ui or not want_ui)
        )

    def line(self, workers: int, want_ui: bool) -> str:
        ui = ("  load generator: " + ("up" if self.ui else "starting")) if want_ui else ""
        return (f"workers registered  KV frontend {self.kv_workers}/{workers}"
                f"  round-robin frontend {self.rr_workers}/{workers}{ui}")


class Stack:
    """Start/stop the whole rehearsal; a context manager that always cleans up."""

    def __init__(self, config: StackConfig, work_dir: Path | None = None, repo_root: Path | None = None) -> None:
        self.config = config
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="rehearsal-")
        self.work_dir = Path(work_dir or self._tmp.name)
        self.repo_root = repo_root or Path(__file__).resolve().parent.parent
        self.supervisor = Supervisor(self.work_dir / "logs")
        self.worker_system_ports: list[int] = []

    # -- start -----------------------------------------------------------------
    def start(self) -> None:
        """Check ports, then launch every process (returns at once; see wait_ready)."""
        cfg = self.config
        require_free(cfg.public_ports())
        if cfg.ui_port is not None and cfg.ui_metrics_port is None:
            [cfg.ui_metrics_port] = pick_free(1)
        # A reused --logs-dir must not hand the frontends a previous run's dead workers.
        shutil.rmtree(self.work_dir / "discovery", ignore_errors=True)
        xsub, xpub = pick_free(2)
        env = self._dynamo_env(event_broker.broker_url(xsub, xpub))
        self._dynamo_env_cached = env
        py = cfg.python
        sup = self.supervisor
        sup.start("event-broker", [py, "-m", "rehearsal.event_broker", "--xsub-port", str(xsub), "--xpub-port", str(xpub)],
                  env=self._base_env(), restart=True)
        self.perf_data = calibration.write_npz(cfg.timing.calibration, self.work_dir / cfg.timing.perf_data_name(), cfg.timing.layout)
        namespaces = cfg.worker_namespaces()
        self.worker_system_ports = pick_free_system_ports(len(namespaces))
        for index, (system_port, namespace) in enumerate(zip(self.worker_system_ports, namespaces)):
            sup.start(worker_name(index), self.worker_argv(namespace),
                      env=env | WORKER_SYSTEM_ENV | {"DYN_SYSTEM_PORT": str(system_port)}, restart=True)
        # Frontends are restarted like workers (the cluster restarts a frontend pod too): `kill -9` of one
        # used to end the whole `make demo`.
        sup.start("frontend-kv", self._frontend_argv(cfg.kv_port, ["--router-mode", "kv", *cfg.router.args(self.work_dir),
                                                                   *cfg.frontend_namespace_args("kv")]), env=env, restart=True)
        sup.start("frontend-round-robin", self._frontend_argv(cfg.rr_port, ["--router-mode", "round-robin",
                                                                            *cfg.frontend_namespace_args("round-robin")]),
                  env=env, restart=True)
        if cfg.ui_port is not None:
            sup.start("loadgen", self.loadgen_argv(), env=self._loadgen_env(), restart=True)

    def add_kv_frontend(self, name: str, port: int, router: RouterSettings) -> str:
        """Start one more KV-routed frontend over the same workers (the benchmark compares settings)."""
        require_free({name: port})
        self.supervisor.start(name, self._frontend_argv(port, ["--router-mode", "kv", *router.args(self.work_dir)]),
                              env=self._dynamo_env_cached)
        return f"http://{HOST}:{port}"

    def worker_argv(self, namespace: str | None = None) -> list[str]:
        """One mocker worker (one replica, timed by the measured table start() wrote); the cluster runs one per worker pod."""
        cfg = self.config
        endpoint = ["--endpoint", f"dyn://{namespace}.backend.generate"] if namespace else []
        return [cfg.python, "-m", "dynamo.mocker", "--model-path", str(TOKENIZER_DIR), "--model-name", MODEL_NAME,
                "--num-workers", "1", *endpoint, *engine_limit_args(), *cfg.timing.args(self.perf_data),
                *cfg.spec.mocker_args(cfg.timing.decode_speedup_ratio), *cfg.extra_mocker_args, *PLANE_ARGS]

    @property
    def worker_system_urls(self) -> dict[str, str]:
        """Worker name -> base URL of its system server (/health, /live, /metrics)."""
        return {worker_name(i): f"http://{HOST}:{port}" for i, port in enumerate(self.worker_system_ports)}

    def _frontend_argv(self, port: int, router_args: list[str]) -> list[str]:
        return [self.config.python, "-m", "dynamo.frontend", "--http-host", HOST, "--http-port", str(port),
                "--migration-limit", str(MIGRATION_LIMIT), *router_args, *PLANE_ARGS]

    def loadgen_argv(self) -> list[str]:
        cfg = self.config
        internal = ["--internal-port", str(cfg.ui_metrics_port)] if cfg.ui_metrics_port else []
        return [cfg.python, "-m", "loadgen", "serve", "--port", str(cfg.ui_port), "--host", HOST, *internal,
                "--frontend-url", cfg.kv_url, "--baseline-url", cfg.rr_url, "--model", MODEL_NAME,
                "--followup-url", OFFLINE_FOLLOWUP_URL, "--speculative", cfg.spec.method,
                *(["--itl-runs-file", str(cfg.itl_runs_file)] if cfg.itl_runs_file else []),
                "--max-prompt-length", str(MAX_NUM_TOKENS), *cfg.loadgen_args]

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.repo_root), env.get("PYTHONPATH")]))
        return env

    def _dynamo_env(self, broker: str) -> dict[str, str]:
        env = self._base_env()
        env.update(LOOPBACK_ENV)
        env.update({
            "DYN_FILE_KV": str(self.work_dir / "discovery"),
            "DYN_ZMQ_BROKER_URL": broker,
            "DYN_LOG": self.config.log_level,
            "HF_HUB_OFFLINE": "1",
        })
        return env

    def _loadgen_env(self) -> dict[str, str]:
        env = self._base_env()
        env.pop("GRADIENT_API_KEY", None)  # local only: follow-ups come from templates
        env["LOADGEN_CONTROL_TOKEN"] = self.config.control_token  # env, not argv: argv is visible in `ps`
        return env

    # -- readiness -------------------------------------------------------------
    def readiness(self, client: httpx.Client) -> Readiness:
        state = Readiness()
        state.kv_model, state.kv_workers = _frontend_state(client, self.config.kv_url)
        state.rr_model, state.rr_workers = _frontend_state(client, self.config.rr_url)
        if self.config.ui_url:
            state.ui = _get_ok(client, self.config.ui_url + "/healthz")
        return state

    def wait_ready(self, timeout_s: float = 120.0, on_progress: Callable[[Readiness], None] | None = None) -> None:
        """Poll until both frontends list the model with every worker; raise ProcessDied/NotReady."""
        deadline = time.monotonic() + timeout_s
        want_ui = self.config.ui_port is not None
        with httpx.Client(timeout=2.0) as client:
            while True:
                self.supervisor.check_alive()
                state = self.readiness(client)
                if on_progress:
                    on_progress(state)
                if state.done(self.config.workers, want_ui):
                    self.supervisor.arm_restarts()  # from now on a dead worker is restarted
                    return
                if time.monotonic() > deadline:
                    raise NotReady(f"not ready after {timeout_s:.0f}s: {state.line(self.config.workers, want_ui)}")
                time.sleep(0.5)

    # -- stop ------------------------------------------------------------------
    def stop(self) -> None:
        self.supervisor.stop_all()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def worker_name(index: int) -> str:
    return f"mocker-{index}"


def _get_ok(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _frontend_state(client: httpx.Client, base_url: str) -> tuple[bool, int]:
    """(model listed, number of worker 'generate' instances the frontend sees)."""
    try:
        models = client.get(base_url + "/v1/models").json().get("data", [])
        health = client.get(base_url + "/health").json()
    except (httpx.HTTPError, ValueError):
        return False, 0
    listed = any(m.get("id") == MODEL_NAME for m in models)
    workers = sum(1 for i in health.get("instances", []) if i.get("endpoint") == "generate")
    return listed, workers


def wait_for_frontend(stack: Stack, url: str, workers: int, timeout_s: float = 60.0) -> None:
    """Block until the frontend at `url` lists the model with `workers` workers."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            stack.supervisor.check_alive()
            listed, seen = _frontend_state(client, url)
            if listed and seen >= workers:
                return
            time.sleep(0.5)
    raise NotReady(f"{url} did not see {workers} workers within {timeout_s:.0f}s")
