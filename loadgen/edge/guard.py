"""The public edge of the service, as one ASGI middleware that runs before any route reads a byte of the body.

Order per HTTP request: who the client is (X-Forwarded-For only from trusted proxies) -> no duplicate Host,
Authorization or Origin -> which port (public or internal) may serve the path -> Host allowed -> a slot
(loadgen.edge.admission: anonymous clients share a capped pool, the token holder has reserved slots; 503) -> for
anything but GET/HEAD: Origin is ours, the bearer token is right (401 before the body is touched),
Content-Length under the cap (413), body read with a deadline (408) and a running byte count (413). Every early
reply closes the connection, so an unread body is never drained. Every response gets the security headers.
A request gives its slot back once its handler has produced the last byte, not once the client has read it
(slow readers are the protocol's write deadline's business); the static assets, the probes and the internal
port take no slot at all.
WebSocket handshakes get the same Host and Origin checks, a rate per address, and a token offered as the subprotocol
`bearer.<token>` marks the token holder's live feed (browsers cannot set Authorization on a websocket).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loadgen.edge.admission import ANONYMOUS_REQUESTS, REQUESTS_PER_ADDRESS, Admission, address_key, client_address
from loadgen.edge.ratelimit import HandshakeRate

SAFE_METHODS = frozenset({"GET", "HEAD"})
WS_SUBPROTOCOL = "loadgen"  # what the server accepts; the token rides beside it as "bearer.<token>"
WS_TOKEN_PREFIX = "bearer."
# Served only on the internal port (Prometheus scrapes it; operators port-forward to it).
INTERNAL_ONLY = ("/metrics", "/api/openapi.json")
# The internal port serves these and nothing else.
INTERNAL_PATHS = (*INTERNAL_ONLY, "/healthz", "/api/conversations/")
# Kubelet probes call the pod IP, whatever our Host list says.
ANY_HOST_PATHS = ("/healthz",)
# Served from memory with cache headers, outside the request pool (loadgen.edge.assets).
STATIC_PATHS = ("/static/",)
STATIC_EXACT = ("/", "/favicon.ico")
# A request carrying two of these is refused: which one wins differs between proxies and us.
SINGLE_HEADERS = (b"host", b"authorization", b"origin")

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def bearer_ok(header: str | None, token: str | None) -> bool:
    """`Authorization: Bearer <token>`, scheme case-insensitive (RFC 7235), value compared in constant time."""
    if token is None:
        return True
    scheme, _, given = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def subprotocol_token_ok(header: str | None, token: str | None) -> bool:
    """The live feed's token: one offered subprotocol is `bearer.<token>` (constant-time compare)."""
    if token is None:
        return False
    offered = [p.strip() for p in (header or "").split(",")]
    return any(hmac.compare_digest(p.removeprefix(WS_TOKEN_PREFIX).encode(), token.encode())
               for p in offered if p.startswith(WS_TOKEN_PREFIX))


def host_of(value: str) -> str:
    """`example.org:443` -> `example.org`; `[::1]:3000` -> `::1`; lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True)
class EdgePolicy:
    """What the middleware enforces; built from Settings."""

    token: str | None
    allowed_hosts: frozenset[str]
    internal_port: int | None
    max_body_bytes: int = 64 * 1024
    body_timeout_s: float = 10.0
    extra_origins: frozenset[str] = field(default_factory=frozenset)
    trusted: tuple = ()  # proxy networks whose X-Forwarded-For is believed

    def host_allowed(self, host: str) -> bool:
        return "*" in self.allowed_hosts or host_of(host) in self.allowed_hosts

    def internal_host_allowed(self, host: str) -> bool:
        """The internal port: our names, or an IP address (Prometheus scrapes the pod IP). A DNS-rebinding page
        always arrives under a host *name* it controls, so names outside our list are refused here too
        (`localhost` stays: an operator's port-forward, and no page can rebind it)."""
        if self.host_allowed(host) or host_of(host) == "localhost":
            return True
        try:
            ipaddress.ip_address(host_of(host))
        except ValueError:
            return False
        return True

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """Same origin as the Host the browser used (and that Host is one of ours), or an explicitly listed origin."""
        if origin in self.extra_origins:
            return True
        parts = urlsplit(origin)
        return bool(parts.netloc) and parts.netloc.lower() == host_header.strip().lower() and self.host_allowed(parts.netloc)


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _duplicated(scope) -> str | None:
    """The first of SINGLE_HEADERS that appears more than once."""
    seen: set[bytes] = set()
    for name, _ in scope.get("headers", []):
        if name in SINGLE_HEADERS:
            if name in seen:
                return name.decode()
            seen.add(name)
    return None


async def _reply(send, status: int, message: str, extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """An early reply; `connection: close` makes uvicorn close the socket once it is sent, so a client that
    announced a body it never sends cannot keep the connection (and its slot) by trickling bytes."""
    body = json.dumps({"detail": message, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close"), *SECURITY_HEADERS, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EdgeGuard:
    """ASGI middleware enforcing EdgePolicy (see module docstring)."""

    def __init__(self, app, policy: EdgePolicy, admission: Admission | None = None, handshakes: HandshakeRate | None = None) -> None:
        self.app = app
        self.policy = policy
        self.admission = admission or Admission(anonymous=ANONYMOUS_REQUESTS, per_address=REQUESTS_PER_ADDRESS)
        self.handshakes = handshakes or HandshakeRate()

    def token_holder(self, headers: dict[str, str]) -> bool:
        return self.policy.token is not None and bearer_ok(headers.get("authorization"), self.policy.token)

    def is_internal(self, scope) -> bool:
        server = scope.get("server")
        return self.policy.internal_port is not None and bool(server) and server[1] == self.policy.internal_port

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        peer, port = scope.get("client") or (None, 0)
        if self.policy.trusted:
            forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
            scope = {**scope, "client": (client_address(peer, forwarded, self.policy.trusted), port)}
        duplicate = _duplicated(scope)
        if scope["type"] == "http":
            if duplicate:
                return await _reply(send, 400, f"more than one {duplicate} header")
            await self._http(scope, receive, send)
        else:
            headers = _headers(scope)
            holder = subprotocol_token_ok(headers.get("sec-websocket-protocol"), self.policy.token)
            if duplicate or not (holder or self.handshakes.allow(address_key((scope.get("client") or (None,))[0]))):
                await receive()  # websocket.connect
                return await send({"type": "websocket.close", "code": 1008})
            await self._websocket(scope, receive, send, headers)

    async def _http(self, scope, receive, send) -> None:
        path, method = scope["path"], scope["method"]
        headers = _headers(scope)
        internal = self.is_internal(scope)
        if internal and not path.startswith(INTERNAL_PATHS):
            return await _reply(send, 404, "not served on the internal port")
        if not internal and path.startswith(INTERNAL_ONLY):
            return await _reply(send, 404, "not found")
        if not internal and not path.startswith(ANY_HOST_PATHS) and not self.policy.host_allowed(headers.get("host", "")):
            return await _reply(send, 400, "unknown host")
        if internal and not self.policy.internal_host_allowed(headers.get("host", "")):
            return await _reply(send, 400, "unknown host")
        # Prometheus, the kubelet's probes and the static assets: never queued behind visitors (the assets come
        # from memory; a slow reader of one is cut by the write deadline and counted by the connection caps).
        if internal or path.startswith(ANY_HOST_PATHS) or (method in SAFE_METHODS and _static(path)):
            return await self._admitted(scope, receive, send, headers, method)
        address, holder = (scope.get("client") or (None,))[0], self.token_holder(headers)
        if not self.admission.enter(address, holder):
            return await _reply(send, 503, "busy: too many requests at once, try again shortly", [(b"retry-after", b"2")])
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.admission.leave(address, holder)

        try:
            await self._admitted(scope, receive, send, headers, method, on_last_body=release)
        finally:
            release()

    async def _admitted(self, scope, receive, send, headers: dict[str, str], method: str, on_last_body=None) -> None:
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            elif on_last_body is not None and message["type"] == "http.response.body" and not message.get("more_body"):
                on_last_body()  # the handler is done: the slot is free while the client reads
            await send(message)

        if method in SAFE_METHODS:
            return await self.app(scope, receive, send_with_headers)
        origin = headers.get("origin")
        if origin is not None and not self.policy.origin_allowed(origin, headers.get("host", "")):
            return await _reply(send, 403, "cross-origin request refused")
        if headers.get("sec-fetch-site") == "cross-site":
            return await _reply(send, 403, "cross-site request refused")
        if not bearer_ok(headers.get("authorization"), self.policy.token):
            return await _reply(send, 401, "control token required", [(b"www-authenticate", b"Bearer")])
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.policy.max_body_bytes):
            return await _reply(send, 413, f"request body over {self.policy.max_body_bytes} bytes")
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if (declared not in (None, "0") or "transfer-encoding" in headers) and ctype != "application/json":
            # A browser sends text/plain and form posts cross-site without a preflight; JSON needs one.
            return await _reply(send, 415, "request body must be application/json")
        try:
            body = await asyncio.wait_for(self._read_body(receive), self.policy.body_timeout_s)
        except TimeoutError:
            return await _reply(send, 408, f"request body not received within {self.policy.body_timeout_s:g}s")
        except _TooLarge:
            return await _reply(send, 413, f"request body over {self.policy.max_body_bytes} bytes")
        except _Disconnected:
            return None
        await self.app(scope, _replay(body, receive), send_with_headers)

    async def _read_body(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.policy.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _websocket(self, scope, receive, send, headers: dict[str, str]) -> None:
        host, origin = headers.get("host", ""), headers.get("origin")
        refused = (self.is_internal(scope)
                   or not self.policy.host_allowed(host)
                   or (origin is not None and not self.policy.origin_allowed(origin, host)))
        if refused:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
            return
        scope["loadgen.token_holder"] = subprotocol_token_ok(headers.get("sec-websocket-protocol"), self.policy.token)
        await self.app(scope, receive, send)


def _static(path: str) -> bool:
    return path in STATIC_EXACT or path.startswith(STATIC_PATHS)


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


def _replay(body: bytes, receive):
    """A receive() that hands the already-read body over once, then defers to the real one (disconnects)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
