"""uvicorn's httptools protocol with the socket-level limits a public endpoint needs.

uvicorn alone holds a connection forever in three ways the audit used, each closed here:
- idle: any byte (CR/LF between requests) cancelled its keep-alive timer. Here only the start of a request
  ends the idle deadline; bytes outside a request never re-arm anything, and count as header bytes;
- headers: no deadline and no size cap (a 101 MB header grew RSS by ~190 MB). Here a request's headers must
  arrive within `header_timeout_s` and `max_header_bytes` (431, then close);
- writes: a client that stops reading held its response (and its request slot) as long as it liked. Here a
  response whose bytes sit unread for `write_timeout_s` is aborted.
Open connections are capped on accept, per listener (the internal port's probes and scrapes never compete
with visitors' sockets), in total and per client address (IPv6 per /64), trusted proxies included: a proxy's
address gets CONNECTIONS_PER_PROXY (it carries many visitors' websockets), never the whole server. At the
total cap a new connection displaces the longest-idle one (no request in progress) instead of being
refused: idle sockets cannot keep anyone out, and a busy one is never cut.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from loadgen.edge.admission import CONNECTIONS, CONNECTIONS_PER_ADDRESS, CONNECTIONS_PER_PROXY, address_key, in_networks

KEEP_ALIVE_S = 5.0
HEADER_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 16 * 1024  # request line + headers; Envoy's default limit is 60 KiB, browsers send < 8 KiB
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
             b"content-length: 31\r\nconnection: close\r\n\r\nrequest headers over the limit\n")


class EdgeProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection; every deadline here closes the socket, none is re-armed by stray bytes."""

    header_timeout_s = HEADER_TIMEOUT_S
    write_timeout_s = WRITE_TIMEOUT_S
    max_header_bytes = MAX_HEADER_BYTES
    max_connections = CONNECTIONS
    max_per_address = CONNECTIONS_PER_ADDRESS
    max_per_proxy = CONNECTIONS_PER_PROXY
    trusted: tuple = ()  # the Gateway's proxies

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = self._write_deadline = None
        self._awaiting_headers, self._header_bytes = True, 0
        if self._over_connection_caps():
            transport.abort()
            return
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._close, "header")

    def _over_connection_caps(self) -> bool:
        """Counted over this listener's share of the server's connection set (it includes upgraded websockets)."""
        self.opened_at = self.loop.time()
        mine = [c for c in self.connections if getattr(c, "server", None) == self.server]
        if len(mine) > self.max_connections and not _displace_idle(mine, self):
            return True
        address = self.client[0] if self.client else None
        self.edge_key = key = address_key(address)  # parsed once: the scan below runs on every accept
        if key is None:
            return False  # a Unix socket: no address to share out
        same = sum(1 for c in mine if _key_of(c) == key)
        return same > (self.max_per_proxy if in_networks(address, self.trusted) else self.max_per_address)

    def idle(self) -> bool:
        """No request in progress: waiting for a first request, or between requests."""
        return self.cycle is None or self.cycle.response_complete

    @property
    def idle_since(self) -> float:
        cycle_done = getattr(self, "_response_done_at", None)
        return cycle_done if cycle_done is not None else self.opened_at

    # Reading: only a request's own start ends the idle deadline.
    def _unset_keepalive_if_required(self) -> None:
        """uvicorn calls this on every byte received; the idle deadline is cancelled in on_message_begin instead."""

    def _cancel_idle(self) -> None:
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._header_bytes > self.max_header_bytes and not self.transport.is_closing():
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._cancel_idle()
        self._awaiting_headers = True
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._close, "header")

    def on_headers_complete(self) -> None:
        self._awaiting_headers, self._header_bytes = False, 0
        self._cancel("_header_deadline")
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._response_done_at = self.loop.time()
        self._cancel_idle()
        self._awaiting_headers = True
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            self.transport.close()  # the request body was not read to its end: do not wait for the rest
        if not self.flow.write_paused:
            self._cancel("_write_deadline")
        super().on_response_complete()

    # Writing: a response that is not read within the deadline is dropped.
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.write_timeout_s, self._close, "write", True)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.cycle is None or self.cycle.response_complete:
            self._cancel("_write_deadline")

    def connection_lost(self, exc) -> None:
        self._cancel("_header_deadline")
        self._cancel("_write_deadline")
        self._cancel_idle()
        super().connection_lost(exc)

    def _cancel(self, name: str) -> None:
        handle = getattr(self, name, None)
        if handle is not None:
            handle.cancel()
            setattr(self, name, None)

    def _close(self, which: str, abort: bool = False) -> None:
        setattr(self, f"_{which}_deadline", None)
        if self.transport.is_closing():
            return
        if abort:  # close() would wait to flush what the client never reads
            self.transport.abort()
        else:
            self.transport.close()


def _displace_idle(connections: list, newcomer: EdgeProtocol) -> bool:
    """Close the longest-idle connection of ours (between requests or before any), if there is one."""
    idle = [c for c in connections if c is not newcomer and isinstance(c, EdgeProtocol) and c.idle()
            and not c.transport.is_closing()]
    if not idle:
        return False
    oldest = min(idle, key=lambda c: c.idle_since)
    oldest.transport.abort()
    return True


def _key_of(connection) -> str | None:
    """A connection's address key: ours carry it; an upgraded websocket's protocol (uvicorn's) is parsed."""
    key = getattr(connection, "edge_key", _UNSET)
    if key is _UNSET:
        key = address_key((getattr(connection, "client", None) or (None,))[0])
    return key


_UNSET = object()
