"""One live snapshot per tick, serialised once and handed to every WebSocket client's own queue.

Each client has a bounded queue and its own writer task: the tick never waits for a client. A client whose
queue is full (it is QUEUE_DEPTH messages behind) or whose writer cannot send one within the send timeout is
dropped; everyone else's feed goes on at the tick. Connections beyond the caps are refused at
the handshake (loadgen.edge.admission: an anonymous pool, a share per client address, and slots only the
control-token holder's screen can take). A client that never reads is also dropped by the server's websocket
pings (loadgen.server).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from loadgen.edge.admission import WEBSOCKETS_PER_ADDRESS, Admission
from loadgen.edge.guard import WS_SUBPROTOCOL

log = logging.getLogger("loadgen.edge.feed")

# Messages a client may be behind before it is dropped: ~4 s of the feed at 60 requests/s (a snapshot a
# second plus one event per request). They are references to one shared string: no copy per client.
QUEUE_DEPTH = 256
TRY_AGAIN_LATER = 1013  # WebSocket close code: server overloaded
UNSUPPORTED_DATA = 1003  # WebSocket close code: a data type the endpoint does not accept


class Broadcaster:
    """Holds the connected clients and the single tick task that feeds them."""

    def __init__(self, snapshot: Callable[[], dict], *, interval_s: float = 1.0, max_clients: int = 250, send_timeout_s: float = 5.0,
                 per_address: int = WEBSOCKETS_PER_ADDRESS, shared: tuple = (), queue_depth: int = QUEUE_DEPTH) -> None:
        self._snapshot = snapshot
        self.interval_s = interval_s
        self.send_timeout_s = send_timeout_s
        self.queue_depth = queue_depth
        self.admission = Admission(anonymous=max_clients, per_address=per_address, shared=shared)
        self.clients: dict[WebSocket, asyncio.Queue[str]] = {}
        self.dropped_slow = 0
        self.snapshots_built = 0  # how many times the snapshot was computed (tests, benchmark)
        self.binary_closed = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loadgen-broadcast")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5.0)
            self._task = None
        for ws in list(self.clients):
            await self._close(ws)

    def message(self) -> str:
        """The snapshot as the text every client receives."""
        self.snapshots_built += 1
        return json.dumps({"type": "snapshot", **self._snapshot()}, separators=(",", ":"))

    async def serve(self, websocket: WebSocket) -> None:
        """Handle one client: refuse over the caps, else send the current snapshot at once and keep it subscribed."""
        address = websocket.client.host if websocket.client else None
        holder = bool(websocket.scope.get("loadgen.token_holder"))
        if not self.admission.enter(address, holder):
            await websocket.close(code=TRY_AGAIN_LATER)
            return
        try:
            await self._subscribed(websocket)
        finally:
            self.admission.leave(address, holder)

    @property
    def refused(self) -> int:
        return self.admission.refused

    async def _subscribed(self, websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None)
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=self.queue_depth)
        queue.put_nowait(self.message())
        self.clients[websocket] = queue
        writer = asyncio.create_task(self._write(websocket, queue), name="loadgen-feed-writer")
        reader = asyncio.create_task(self._read(websocket), name="loadgen-feed-reader")
        try:
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.clients.pop(websocket, None)
            for task in (writer, reader):
                task.cancel()
            await asyncio.gather(writer, reader, return_exceptions=True)
            await self._close(websocket)

    async def _read(self, websocket: WebSocket) -> None:
        """The client sends nothing we use; reading notices it leaving (or sending what the feed refuses)."""
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:  # the feed is text only: close, and say so once
                    self.binary_closed += 1
                    if self.binary_closed == 1:
                        log.warning("closed a live-feed client that sent a binary frame (logged once)")
                    await websocket.close(code=UNSUPPORTED_DATA)
                    return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    async def _write(self, websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
        """This client's own writer: one message at a time, each within the send timeout, or the client goes."""
        try:
            while True:
                text = await queue.get()
                if text is _GONE:
                    return
                async with asyncio.timeout(self.send_timeout_s):
                    await websocket.send_text(text)
        except TimeoutError:
            self.dropped_slow += 1
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    async def publish(self, payload: dict) -> None:
        """Send one extra message (e.g. a per-request event) to every client, serialised once."""
        if self.clients:
            self._send_all(json.dumps(payload, separators=(",", ":")))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if not self.clients:
                continue
            try:
                self._send_all(self.message())
            except Exception:  # a bad snapshot must not end the feed for everyone
                log.exception("live snapshot failed")

    def _send_all(self, text: str) -> None:
        """Queue `text` for every client without waiting for any; a client that is queue_depth behind goes."""
        for websocket, queue in list(self.clients.items()):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:
                self.dropped_slow += 1
                self.clients.pop(websocket, None)
                _replace_with_gone(queue)

    async def _close(self, websocket: WebSocket) -> None:
        self.clients.pop(websocket, None)
        try:
            await websocket.close(code=1001)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass


_GONE = "\x00gone"  # put in a dropped client's queue: its writer stops, and _subscribed closes the socket


def _replace_with_gone(queue: asyncio.Queue[str]) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(_GONE)
