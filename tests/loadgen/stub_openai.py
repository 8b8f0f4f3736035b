"""A local OpenAI-style chat-completions stub for loadgen tests and the benchmark.

Streams SSE chunks with a configurable time-to-first-token and inter-token delay, reports
`usage.prompt_tokens_details.cached_tokens` when `stream_options.include_usage` is set (from a
simple per-server prefix cache over the message list), and can fail with an HTTP status, cut a
stream mid-way, or be stopped so connections are refused. Importable (`StubServer`, `StubConfig`)
and runnable: `python tests/loadgen/stub_openai.py --port 0 --ttft-ms 50` prints `STUB_READY <url>`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class StubConfig:
    """Behaviour knobs; mutate between requests from a test."""

    ttft_ms: float = 20.0
    itl_ms: float = 2.0
    max_tokens_cap: int = 16  # tokens streamed = min(max_tokens, cap)
    prefix_cache: bool = True  # remember prompts, report cached tokens, and charge prefill only for uncached ones
    report_cached: bool = True  # include prompt_tokens_details.cached_tokens in usage
    prefill_ms_per_1k: float = 0.0  # extra TTFT per 1000 uncached prompt tokens
    fail_status: int | None = None  # answer with this HTTP status ...
    fail_count: int = 0  # ... for this many requests (-1: always)
    cut_after: int | None = None  # close the stream after this many tokens, without [DONE]
    reply: str = "ok"  # token text streamed
    tokens_per_chunk: int = 1  # >1: several tokens per chunk, one chunk per itl_ms x that many (speculative decoding)
    worker_id: int = 7587888208339349121  # reported like Dynamo's nvext.worker_id when the request asks for it


def estimate_tokens(messages: list[dict]) -> int:
    return sum(4 + len(str(m.get("content", ""))) // 4 for m in messages)


def _prefix_keys(messages: list[dict]) -> list[str]:
    digest, keys = hashlib.sha256(), []
    for m in messages:
        digest.update(json.dumps([m.get("role"), m.get("content")]).encode())
        keys.append(digest.copy().hexdigest())
    return keys


class Stub:
    """The ASGI app plus its state (requests seen, prefix cache)."""

    def __init__(self, config: StubConfig | None = None) -> None:
        self.config = config or StubConfig()
        self.requests: deque[dict] = deque(maxlen=10_000)
        self.timings: deque[dict] = deque(maxlen=100_000)  # wall-clock receive / first-content times per request
        self.count = 0
        self._cache: set[str] = set()
        self.app = self._build()

    def _cached_tokens(self, messages: list[dict]) -> int:
        keys = _prefix_keys(messages)
        cached = 0
        for i in range(len(messages) - 1, 0, -1):
            if keys[i - 1] in self._cache:
                cached = estimate_tokens(messages[:i])
                break
        self._cache.update(keys)
        return cached

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/health")
        async def health() -> dict:
            return {"ok": True}

        @app.get("/stub/timings")
        async def timings() -> dict:
            return {"timings": list(self.timings)}

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            received = time.time()
            cfg = self.config
            body = await request.json()
            self.requests.append(body)
            self.count += 1
            if cfg.fail_status and cfg.fail_count != 0:
                if cfg.fail_count > 0:
                    cfg.fail_count -= 1
                return JSONResponse({"error": {"message": "stub failure"}}, status_code=cfg.fail_status)
            messages = body.get("messages", [])
            prompt_tokens = estimate_tokens(messages)
            cached = self._cached_tokens(messages) if cfg.prefix_cache else 0
            n_tokens = max(1, min(int(body.get("max_tokens") or cfg.max_tokens_cap), cfg.max_tokens_cap))
            ttft = (cfg.ttft_ms + cfg.prefill_ms_per_1k * (prompt_tokens - cached) / 1000.0) / 1000.0
            if not body.get("stream"):
                await asyncio.sleep(ttft)
                text = " ".join([cfg.reply] * n_tokens)
                return {
                    "id": "stub",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n_tokens, "total_tokens": prompt_tokens + n_tokens},
                }
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            timing = {"first_user": next((str(m.get("content", ""))[:64] for m in messages if m.get("role") == "user"), ""), "received": received}
            self.timings.append(timing)
            return StreamingResponse(self._stream(cfg, body, ttft, n_tokens, prompt_tokens, cached, include_usage, timing), media_type="text/event-stream")

        return app

    async def _stream(self, cfg: StubConfig, body: dict, ttft: float, n: int, prompt_tokens: int, cached: int, include_usage: bool, timing: dict):
        wanted = set((body.get("nvext") or {}).get("extra_fields") or ())

        def chunk(delta: dict, finish: str | None = None) -> str:
            data = {
                "id": "stub",
                "object": "chat.completion.chunk",
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            nvext = {}
            if "worker_id" in wanted:  # Dynamo 1.6.1's shape (checked on the rehearsal's frontends)
                nvext["worker_id"] = {"prefill_worker_id": cfg.worker_id, "decode_worker_id": cfg.worker_id}
            if finish and "timing" in wanted:
                nvext["timing"] = {"ttft_ms": ttft * 1000, "prefill_time_ms": ttft * 1000, "kv_hit_rate": cached / max(1, prompt_tokens)}
            if nvext:
                data["nvext"] = nvext
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        await asyncio.sleep(ttft)
        for i in range(0, n, cfg.tokens_per_chunk):
            if cfg.cut_after is not None and i >= cfg.cut_after:
                raise ConnectionAbortedError("stub cuts the stream")
            group = range(i, min(i + cfg.tokens_per_chunk, n))
            if i:
                await asyncio.sleep(cfg.itl_ms * len(group) / 1000.0)
            else:
                timing["first_sent"] = time.time()
            yield chunk({"content": "".join(cfg.reply if j == 0 else " " + cfg.reply for j in group)})
        yield chunk({}, "stop" if n < int(body.get("max_tokens") or 10**9) else "length")
        if include_usage:
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n}
            if cfg.report_cached:
                usage["prompt_tokens_details"] = {"cached_tokens": cached}
            yield f"data: {json.dumps({'id': 'stub', 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (also handy as a 'connection refused' target)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StubServer:
    """Runs a Stub under uvicorn in a background thread on 127.0.0.1 (a ThreadedApp around the stub's app)."""

    def __init__(self, config: StubConfig | None = None, port: int | None = None) -> None:
        self.stub = Stub(config)
        self._app = ThreadedApp(self.stub.app, port)
        self.port = self._app.port

    @property
    def config(self) -> StubConfig:
        return self.stub.config

    @property
    def url(self) -> str:
        return self._app.url

    def start(self, timeout_s: float = 15.0) -> StubServer:
        self._app.start(timeout_s)
        return self

    def stop(self) -> None:
        self._app.stop()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-style streaming stub")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--itl-ms", type=float, default=2.0)
    parser.add_argument("--max-tokens-cap", type=int, default=16)
    parser.add_argument("--prefill-ms-per-1k", type=float, default=0.0)
    parser.add_argument("--no-prefix-cache", action="store_true")
    args = parser.parse_args()
    config = StubConfig(
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        max_tokens_cap=args.max_tokens_cap,
        prefill_ms_per_1k=args.prefill_ms_per_1k,
        prefix_cache=not args.no_prefix_cache,
    )
    port = args.port or free_port()
    stub = Stub(config)
    server = uvicorn.Server(uvicorn.Config(stub.app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=4096))

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        print(f"STUB_READY http://127.0.0.1:{port}", flush=True)
        await task

    asyncio.run(serve())


class ThreadedApp:
    """Any ASGI app (e.g. the loadgen service) under uvicorn in a background thread on 127.0.0.1."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, daemon=True, name=f"app-{self.port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> ThreadedApp:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("app did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


if __name__ == "__main__":
    main()
