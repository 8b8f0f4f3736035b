"""Runs the app under uvicorn with the limits a public endpoint needs, and one extra listening socket for the
internal port (/metrics for Prometheus), served by the same app and state.

- a deadline for request headers (uvicorn has none: a client trickling headers held its connection forever);
- a connection whose request body was not fully received is closed once its response is sent (an unread body
  is never drained: a client announcing 1 GB and trickling a byte every few seconds kept its socket for good);
- caps on open connections, in total and per client address, checked on accept (trusted proxies exempt);
- uvicorn's own limit_concurrency is off: it counted every open socket, so anonymous sockets could take the
  presenter's capacity too. Request slots are handed out by loadgen.edge.admission instead, with slots reserved
  for the control-token holder;
- websocket pings every 5 s: a client that never reads never answers one and is dropped within 10 s.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .edge.admission import CONNECTIONS, CONNECTIONS_PER_ADDRESS, in_networks, networks
from .app import create_app
from .settings import Settings

KEEP_ALIVE_S = 5
WS_PING_S = 5.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request headers are not complete in time."""

    header_timeout_s = 10.0
    max_connections = CONNECTIONS
    max_per_address = CONNECTIONS_PER_ADDRESS
    trusted: tuple = ()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = None
        if self._over_connection_caps():
            transport.close()
            return
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _over_connection_caps(self) -> bool:
        """Counted over the server's connection set (it includes upgraded websockets)."""
        if len(self.connections) > self.max_connections:
            return True
        address = self.client[0] if self.client else None
        if address is None or in_networks(address, self.trusted):
            return False
        same = sum(1 for c in self.connections if (getattr(c, "client", None) or (None,))[0] == address)
        return same > self.max_per_address

    def on_response_complete(self) -> None:
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            self.transport.close()  # the request body was not read to its end: do not wait for the rest
        super().on_response_complete()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if getattr(self, "_header_deadline", None) is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._cancel_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _cancel_header_deadline(self) -> None:
        handle = getattr(self, "_header_deadline", None)
        if handle is not None:
            handle.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def sockets_for(settings: Settings) -> list[socket.socket]:
    """The public socket, plus the internal one when configured (same address; the cluster's NetworkPolicy and
    the Service, which does not expose it, keep it in-cluster)."""
    socks = [bind(settings.host, settings.port)]
    if settings.internal_port:
        socks.append(bind(settings.host, settings.internal_port))
    return socks


def make_server(settings: Settings, *, seed: int | None = None, log_level: str | None = None) -> uvicorn.Server:
    trusted = networks(settings.trusted_proxies)
    protocol = type("HeaderDeadline", (HeaderDeadlineProtocol,), {"header_timeout_s": settings.header_timeout_s, "trusted": trusted})
    config = uvicorn.Config(
        create_app(settings, seed=seed),
        http=protocol,
        log_level=log_level or settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=None,  # see the module docstring: loadgen.edge.admission hands out the slots
        ws_max_size=64 * 1024,
        ws_ping_interval=WS_PING_S,
        ws_ping_timeout=WS_PING_S,
        # X-Forwarded-For counts only from these (uvicorn trusts 127.0.0.1 by default: anyone on loopback
        # could then pose as any address and dodge the per-address caps).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(str(n) for n in trusted) or "",
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(settings: Settings) -> None:
    """Block serving until SIGINT/SIGTERM."""
    make_server(settings).run(sockets=sockets_for(settings))
