"""Runs the app under uvicorn with the limits a public endpoint needs, and one extra listening socket for the
internal port (/metrics for Prometheus, the kubelet's probes), served by the same app and state.

- the socket-level deadlines and caps (idle, headers, writes, open connections): loadgen.edge.protocol;
- uvicorn's own limit_concurrency is off: it counted every open socket, so anonymous sockets could take the
  presenter's capacity too. Request slots are handed out by loadgen.edge.admission instead, with slots
  reserved for the control-token holder;
- X-Forwarded-For is read by loadgen.edge.guard (uvicorn's proxy headers are off: they took any forwarded
  value, and an IPv6 /64 or a non-address string then multiplied one client);
- websocket pings every 5 s: a client that never reads never answers one and is dropped within 10 s.
"""

from __future__ import annotations

import logging
import socket

import uvicorn

from loadgen.app import create_app
from loadgen.edge.admission import networks
from loadgen.edge.protocol import KEEP_ALIVE_S, EdgeProtocol
from loadgen.settings import Settings

WS_PING_S = 5.0


class QuietHandshakes(logging.Filter):
    """uvicorn logs every websocket handshake at info: a handshake flood would become a log flood."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and (str(record.msg).startswith('%s - "WebSocket')
                                               or record.msg in ("connection open", "connection closed")):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


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
    protocol = type("Edge", (EdgeProtocol,), {"header_timeout_s": settings.header_timeout_s,
                                              "trusted": networks(settings.trusted_proxies)})
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
        proxy_headers=False,  # loadgen.edge.guard reads X-Forwarded-For from the trusted proxies
        server_header=False,
    )
    server = uvicorn.Server(config)
    quiet = QuietHandshakes()
    for name in ("uvicorn.error", "websockets.server"):
        if not any(isinstance(f, QuietHandshakes) for f in logging.getLogger(name).filters):
            logging.getLogger(name).addFilter(quiet)
    return server


def serve(settings: Settings) -> None:
    """Block serving until SIGINT/SIGTERM."""
    make_server(settings).run(sockets=sockets_for(settings))
