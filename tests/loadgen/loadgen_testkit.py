"""Helpers the load generator tests import (kept out of conftest.py: every test folder has a conftest,
and `from conftest import ...` would pick up whichever one pytest loaded last)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from stub_openai import ThreadedApp

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-control-token-7f3a"


def wait_for(predicate: Callable[[], object], timeout_s: float = 20.0, interval_s: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy (returns it); fail after timeout_s. Not a timing assertion."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


class ThreadedServer(ThreadedApp):
    """The real loadgen server (loadgen.server: header deadline, connection cap, public + internal socket) in a
    background thread on 127.0.0.1 with free ports; starts and stops like ThreadedApp."""

    def __init__(self, settings, seed: int | None = 7) -> None:  # noqa: D107 (ThreadedApp's own set-up is not used)
        from loadgen.server import make_server, sockets_for
        from rehearsal.ports import pick_free

        self.port, internal = pick_free(2)
        self.settings = settings.__class__(**{**settings.__dict__, "host": "127.0.0.1", "port": self.port, "internal_port": internal})
        self.sockets = sockets_for(self.settings)
        self._server = make_server(self.settings, seed=seed, log_level="warning")
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": self.sockets}, daemon=True, name=f"loadgen-{self.port}")
        self.internal_url = f"http://127.0.0.1:{internal}"

    @property
    def service(self):
        """The live Service (for tests that look inside the running state, e.g. the broadcaster's counters)."""
        return self._server.config.app.state.service

    def stop(self) -> None:
        super().stop()
        for sock in self.sockets:
            sock.close()


class Loadgen:
    """A running loadgen service plus a client that can act with or without the control token."""

    def __init__(self, app: ThreadedServer, token: str | None) -> None:
        self.app = app
        self.url = app.url
        self.internal_url = app.internal_url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=app.url, headers=headers, timeout=15)

    def status(self) -> dict:
        return self.http.get("/api/status").json()

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.http.post(path, json=body) if body is not None else self.http.post(path)

    def wait_state(self, state: str, timeout_s: float = 30.0) -> dict:
        return wait_for(lambda: (s := self.status())["state"] == state and s, timeout_s, what=f"state {state}")

    def conversations(self, **params) -> dict:
        return self.http.get("/api/conversations", params={"limit": 1000, **params}).json()

    def metrics(self) -> str:
        """Prometheus text from the internal port (the public one does not serve /metrics)."""
        return httpx.get(self.internal_url + "/metrics", timeout=15).text


FAST = {"thinkTimeMs": {"min": 0, "max": 5}, "turns": {"min": 3, "max": 3}, "maxTokens": 8}
