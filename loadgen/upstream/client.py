"""Streams one chat completion from an OpenAI-compatible frontend and times it (TTFT, ITL, end-to-end, usage)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import httpx
from httpx_sse import SSEError, aconnect_sse

ERROR_KINDS = ("connect", "timeout", "http_4xx", "http_5xx", "stream_cut", "bad_response")
# Bounds on what one completion may cost us, whatever the upstream sends: raw bytes of the whole response
# (SSE framing included; a max_tokens=8192 answer is ~2.5 MB of events) and bytes of an error body we keep.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_ERROR_BYTES = 200
# All completions together: raw response bytes of completions still in flight, counted until each ends. With
# the per-completion bound alone, a misbehaving upstream at concurrency 60 drove the process to 1,110 MB (re-audit,
# issue 22); a completion that would pass this budget fails as bad_response instead.
MAX_INFLIGHT_BYTES = 96 * 1024 * 1024
# Characters of answer text kept per completion (a max_tokens=8192 answer is ~32 K): the conversation store keeps
# up to 1,000 conversations, so an upstream that streams more than it was asked for must not fill it.
MAX_TEXT_CHARS = 64 * 1024
DEFAULT_TTFT_TIMEOUT_S = 60.0


@dataclass
class TurnResult:
    """What one streamed completion produced and how long it took (seconds)."""

    text: str = ""
    ttft_s: float | None = None
    itl_s: float | None = None
    e2e_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    content_chunks: int = 0
    worker_id: int | None = None  # Dynamo's nvext.worker_id.decode_worker_id: the replica that served it
    server_ttft_ms: float | None = None  # nvext.timing, measured inside the frontend
    prefill_ms: float | None = None
    kv_hit_rate: float | None = None  # only the KV router reports it
    error_kind: str | None = None
    error: str | None = None
    token_times: list[float] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.error_kind is None


class UpstreamError(Exception):
    """A failed completion, classified by kind for metrics."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class ClientPool:
    """Several small httpx pools per frontend: httpcore scans its whole pool on every request and close, so one
    pool of hundreds of connections costs milliseconds per request at high concurrency; shards keep scans short."""

    def __init__(self, base_url: str, *, shards: int = 8, connections_per_shard: int = 160, read_timeout: float = 120.0) -> None:
        self.shards = [make_client(base_url, max_connections=connections_per_shard, read_timeout=read_timeout) for _ in range(shards)]
        self._next = 0

    def pick(self) -> httpx.AsyncClient:
        """Round-robin over shards (one shard per session keeps its connection warm across turns)."""
        client = self.shards[self._next]
        self._next = (self._next + 1) % len(self.shards)
        return client

    async def aclose(self) -> None:
        for client in self.shards:
            await client.aclose()


@cache
def _tls() -> ssl.SSLContext:
    """One default TLS context for all clients (building one per client costs ~10 ms each)."""
    return httpx.create_ssl_context()


def make_client(base_url: str, *, max_connections: int = 1100, read_timeout: float = 120.0) -> httpx.AsyncClient:
    """One pooled HTTP client for a frontend."""
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        verify=_tls(),
        timeout=httpx.Timeout(connect=5.0, read=read_timeout, write=30.0, pool=None),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )


def ack_now(response: httpx.Response) -> None:
    """ACK the response headers at once (Linux TCP_QUICKACK) so the first token is not held back.

    Why: Dynamo 1.6.1's frontend sends the SSE headers and the first chunk as separate small writes
    with Nagle on; on a kept-alive connection the client's delayed ACK (up to 40 ms) then holds the
    first token back. Measured on the rehearsal: a cached 2k-token turn 44-48 ms without, 16-17 ms
    with (the GPU figure for a hit is ~15 ms), so without this every cached turn looks ~30 ms slower.
    """
    quickack = getattr(socket, "TCP_QUICKACK", None)
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if quickack is None or sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
    except OSError:
        pass


def _nvext_from(chunk: dict, result: TurnResult) -> None:
    """Dynamo's per-request extras (asked for with nvext.extra_fields): serving worker and server timing."""
    nvext = chunk.get("nvext")
    if not isinstance(nvext, dict):
        return
    worker = nvext.get("worker_id")
    if isinstance(worker, dict):
        wid = worker.get("decode_worker_id", worker.get("prefill_worker_id"))
        if isinstance(wid, int):
            result.worker_id = wid
    timing = nvext.get("timing")
    if isinstance(timing, dict):
        result.server_ttft_ms = _number(timing.get("ttft_ms"))
        result.prefill_ms = _number(timing.get("prefill_time_ms"))
        result.kv_hit_rate = _number(timing.get("kv_hit_rate"))


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _usage_from(chunk: dict, result: TurnResult) -> None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return
    result.prompt_tokens = usage.get("prompt_tokens", result.prompt_tokens)
    result.completion_tokens = usage.get("completion_tokens", result.completion_tokens)
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and details.get("cached_tokens") is not None:
        result.cached_tokens = int(details["cached_tokens"])


class ByteBudget:
    """Bytes shared by every completion in flight; `take` refuses what would pass the limit."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.peak = limit, 0, 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        self.peak = max(self.peak, self.used)
        return True

    def give(self, n: int) -> None:
        self.used -= n


INFLIGHT = ByteBudget(MAX_INFLIGHT_BYTES)


class _BoundedStream(httpx.AsyncByteStream):
    """The response body, failing once it passes `limit` bytes or the shared in-flight budget (an endless or
    giant stream cannot grow memory, alone or with 59 others)."""

    def __init__(self, inner: httpx.AsyncByteStream, limit: int, budget: ByteBudget | None = None) -> None:
        self.inner, self.limit, self.seen = inner, limit, 0
        self.budget = budget or INFLIGHT
        self.held = 0

    async def __aiter__(self):
        async for chunk in self.inner:
            self.seen += len(chunk)
            if self.seen > self.limit:
                raise UpstreamError("bad_response", f"response exceeded {self.limit} bytes")
            if not self.budget.take(len(chunk)):
                raise UpstreamError("bad_response", f"responses in flight passed {self.budget.limit // (1024 * 1024)} MB; dropped this one")
            self.held += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        self.budget.give(self.held)
        self.held = 0
        await self.inner.aclose()


async def _error_detail(response: httpx.Response) -> str:
    """At most MAX_ERROR_BYTES of an error body; the rest is never read."""
    kept = b""
    async for chunk in response.aiter_raw():
        kept += chunk[: MAX_ERROR_BYTES - len(kept)]
        if len(kept) >= MAX_ERROR_BYTES:
            break
    return kept.decode("utf-8", "replace")


async def _stream(client: httpx.AsyncClient, body: dict, result: TurnResult, started: float, on_first_token=None) -> None:
    parts: list[str] = []
    kept = 0
    finished = False
    async with aconnect_sse(client, "POST", "/v1/chat/completions", json=body) as source:
        response = source.response
        if response.status_code >= 400:
            detail = await _error_detail(response)
            kind = "http_5xx" if response.status_code >= 500 else "http_4xx"
            raise UpstreamError(kind, f"HTTP {response.status_code}: {detail}")
        ack_now(response)
        response.stream = _BoundedStream(response.stream, MAX_RESPONSE_BYTES)
        async for event in source.aiter_sse():
            if event.data == "[DONE]":
                finished = True  # keep reading to the end of the body so the connection goes back to the pool
                continue
            try:
                chunk = json.loads(event.data)
            except json.JSONDecodeError as exc:
                raise UpstreamError("bad_response", f"invalid JSON in stream: {exc}") from exc
            if "error" in chunk and not chunk.get("choices"):
                raise UpstreamError("bad_response", f"error event: {str(chunk['error'])[:200]}")
            _usage_from(chunk, result)
            _nvext_from(chunk, result)
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                content = delta.get("content")
                if content:
                    now = time.perf_counter()
                    if result.ttft_s is None:
                        result.ttft_s = now - started
                        if on_first_token is not None:
                            on_first_token()
                    result.token_times.append(now)
                    kept += len(content)
                    if kept > MAX_TEXT_CHARS:
                        raise UpstreamError("bad_response", f"answer passed {MAX_TEXT_CHARS} characters (asked for {body['max_tokens']} tokens)")
                    parts.append(content)
                if choice.get("finish_reason"):
                    finished = True
    result.text = "".join(parts)
    result.content_chunks = len(result.token_times)
    if not finished:
        raise UpstreamError("stream_cut", "stream ended before [DONE]/finish_reason")


async def stream_chat(
    client: httpx.AsyncClient,
    *,
    model: str,
    messages: list[dict],
    max_tokens: int,
    timeout_s: float,
    ttft_timeout_s: float | None = None,
    on_first_token: Callable[[], None] | None = None,
) -> TurnResult:
    """POST /v1/chat/completions with stream + include_usage; never raises for upstream failures.

    Two deadlines: the first content token must arrive within `ttft_timeout_s` (a hung frontend shows up in
    a minute, not after the whole request timeout), and the whole request must end within `timeout_s`.
    """
    body = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        # Dynamo 1.6.1: the serving worker on every chunk, server-side timing on the last one.
        "nvext": {"extra_fields": ["worker_id", "timing"]},
    }
    result = TurnResult()
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    request_deadline = loop.time() + timeout_s
    first_deadline = min(request_deadline, loop.time() + (ttft_timeout_s or timeout_s))
    try:
        async with asyncio.timeout_at(first_deadline) as deadline:
            def first_token() -> None:
                deadline.reschedule(request_deadline)
                if on_first_token is not None:
                    on_first_token()

            await _stream(client, body, result, started, on_first_token=first_token)
    except UpstreamError as exc:
        result.error_kind, result.error = exc.kind, str(exc)
    except TimeoutError:
        waited = loop.time() - (request_deadline - timeout_s)
        what = "no first token" if result.ttft_s is None else "request not finished"
        result.error_kind, result.error = "timeout", f"{what} after {waited:.1f}s"
    except httpx.TimeoutException as exc:
        result.error_kind, result.error = "timeout", f"timed out: {type(exc).__name__}"
    except httpx.ConnectError as exc:
        result.error_kind, result.error = "connect", f"connection failed: {exc}"
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        result.error_kind, result.error = "stream_cut", f"stream broken: {type(exc).__name__}: {exc}"
    except (SSEError, httpx.HTTPError) as exc:
        result.error_kind, result.error = "bad_response", f"{type(exc).__name__}: {exc}"
    ended = time.perf_counter()
    result.e2e_s = ended - started
    times = result.token_times
    if len(times) >= 2:
        # Per token, not per chunk: a speculative decoding step can stream several accepted tokens in one chunk.
        tokens = max(len(times), result.completion_tokens or 0)
        result.itl_s = (times[-1] - times[0]) / (tokens - 1)
    if result.completion_tokens is None and result.ok:
        result.completion_tokens = result.content_chunks
    return result
