"""Runs the app under uvicorn with the limits a public endpoint needs: a deadline for request headers (uvicorn
has none: a client trickling headers held its connection forever), a cap on concurrent connections, and one
extra listening socket for the internal port (/metrics for Prometheus), served by the same app and state.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .app import create_app
from .settings import Settings

KEEP_ALIVE_S = 5


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request headers are not complete in time."""

    header_timeout_s = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

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
    protocol = type("HeaderDeadline", (HeaderDeadlineProtocol,), {"header_timeout_s": settings.header_timeout_s})
    config = uvicorn.Config(
        create_app(settings, seed=seed),
        http=protocol,
        log_level=log_level or settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_S,
        # Every HTTP request and WebSocket counts; above this uvicorn answers 503 instead of queueing.
        limit_concurrency=settings.max_ws_clients + 200,
        ws_max_size=64 * 1024,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(settings: Settings) -> None:
    """Block serving until SIGINT/SIGTERM."""
    make_server(settings).run(sockets=sockets_for(settings))
