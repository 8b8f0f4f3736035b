"""Shared fixtures: OpenAI-style stubs, an in-process loadgen service, helpers that poll instead of sleeping."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stub_openai import StubConfig, StubServer, ThreadedApp

from loadgen.app import create_app
from loadgen.settings import Settings

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


class Loadgen:
    """A running loadgen service plus a client that can act with or without the control token."""

    def __init__(self, app: ThreadedApp, token: str | None) -> None:
        self.app = app
        self.url = app.url
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
        return self.http.get("/metrics").text


@pytest.fixture
def make_stub() -> Iterator[Callable[..., StubServer]]:
    """Factory for OpenAI-style stubs on random ports; all stopped at teardown."""
    started: list[StubServer] = []

    def make(**config) -> StubServer:
        server = StubServer(StubConfig(**config)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def make_loadgen() -> Iterator[Callable[..., Loadgen]]:
    """Factory for an in-process loadgen service (uvicorn thread, 127.0.0.1, random port)."""
    started: list[Loadgen] = []

    def make(
        frontend_url: str, baseline_url: str | None = None, *, token: str | None = None, client_token: str | None = "same", seed: int | None = 7, **settings
    ) -> Loadgen:
        app = create_app(Settings(frontend_url=frontend_url, baseline_url=baseline_url, model="test-model", control_token=token, **settings), seed=seed)
        lg = Loadgen(ThreadedApp(app).start(), token if client_token == "same" else client_token)
        started.append(lg)
        return lg

    yield make
    for lg in started:
        lg.http.close()
        lg.app.stop()


@pytest.fixture
def pair(make_stub, make_loadgen):
    """(loadgen, kv stub, round-robin stub): the KV stub keeps a prefix cache, the baseline does not."""
    kv = make_stub(ttft_ms=15, prefill_ms_per_1k=40)
    rr = make_stub(ttft_ms=15, prefill_ms_per_1k=40, prefix_cache=False)
    return make_loadgen(kv.url, rr.url), kv, rr


FAST = {"thinkTimeMs": {"min": 0, "max": 5}, "turns": {"min": 3, "max": 3}, "maxTokens": 8}
