"""Shared fixtures: OpenAI-style stubs, an in-process loadgen service, helpers that poll instead of sleeping."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stub_openai import StubConfig, StubServer

from loadgen.settings import Settings
from loadgen_testkit import Loadgen, ThreadedServer


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
    """Factory for an in-process loadgen service (the real server in a thread, 127.0.0.1, random ports)."""
    started: list[Loadgen] = []

    def make(
        frontend_url: str, baseline_url: str | None = None, *, token: str | None = None, client_token: str | None = "same", seed: int | None = 7, **settings
    ) -> Loadgen:
        server = ThreadedServer(Settings(frontend_url=frontend_url, baseline_url=baseline_url, model="test-model", control_token=token, **settings), seed=seed)
        lg = Loadgen(server.start(), token if client_token == "same" else client_token)
        started.append(lg)
        return lg

    yield make
    for lg in started:
        lg.http.close()
        lg.app.stop()


@pytest.fixture
def make_pair(make_stub, make_loadgen):
    """(loadgen, kv stub, round-robin stub) for a re-prefill cost: the KV stub keeps a prefix cache, the baseline does not."""

    def make(prefill_ms_per_1k: float = 40):
        kv = make_stub(ttft_ms=15, prefill_ms_per_1k=prefill_ms_per_1k)
        rr = make_stub(ttft_ms=15, prefill_ms_per_1k=prefill_ms_per_1k, prefix_cache=False)
        return make_loadgen(kv.url, rr.url), kv, rr

    return make


@pytest.fixture
def pair(make_pair):
    return make_pair()
