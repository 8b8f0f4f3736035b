"""One live snapshot per tick, serialised once and sent to every WebSocket client.

Before this, each client's handler rebuilt the whole snapshot (status + the 60 s window of samples) every
second: the cost grew with clients x samples (200 clients took 73% of a core at 3,000 samples). Now one task
builds it once per tick whatever the number of clients; a client that cannot take a message within the send
timeout is dropped, and connections beyond the caps are refused at the handshake (loadgen.edge.admission: an
anonymous pool, a share per client address, and slots only the control-token holder's screen can take).
A client that never reads is dropped by the server's websocket pings (loadgen.server).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from .admission import WEBSOCKETS_PER_ADDRESS, Admission
from .guard import WS_SUBPROTOCOL

log = logging.getLogger("loadgen.edge.feed")

TRY_AGAIN_LATER = 1013  # WebSocket close code: server overloaded
UNSUPPORTED_DATA = 1003  # WebSocket close code: a data type the endpoint does not accept


class Broadcaster:
    """Holds the connected clients and the single tick task that feeds them."""

    def __init__(self, snapshot: Callable[[], dict], *, interval_s: float = 1.0, max_clients: int = 250, send_timeout_s: float = 5.0,
                 per_address: int = WEBSOCKETS_PER_ADDRESS, trusted: tuple = ()) -> None:
        self._snapshot = snapshot
        self.interval_s = interval_s
        self.send_timeout_s = send_timeout_s
        self.admission = Admission(anonymous=max_clients, per_address=per_address, trusted=trusted)
        self.clients: set[WebSocket] = set()
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
            await self._drop(ws)

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
        self.clients.add(websocket)
        try:
            await self._send(websocket, self.message())
            while True:  # the client sends nothing we use; reading notices it leaving
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:  # the feed is text only: close, and say so once
                    self.binary_closed += 1
                    if self.binary_closed == 1:
                        log.warning("closed a live-feed client that sent a binary frame (logged once)")
                    await websocket.close(code=UNSUPPORTED_DATA)
                    break
        except (WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            pass
        finally:
            self.clients.discard(websocket)

    async def publish(self, payload: dict) -> None:
        """Send one extra message (e.g. a per-request event) to every client, serialised once."""
        if self.clients:
            await self._send_all(json.dumps(payload, separators=(",", ":")))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if not self.clients:
                continue
            try:
                await self._send_all(self.message())
            except Exception:  # a bad snapshot must not end the feed for everyone
                log.exception("live snapshot failed")

    async def _send_all(self, text: str) -> None:
        clients = list(self.clients)
        results = await asyncio.gather(*(self._send(ws, text) for ws in clients), return_exceptions=True)
        for ws, result in zip(clients, results):
            if isinstance(result, BaseException):
                await self._drop(ws)

    async def _send(self, websocket: WebSocket, text: str) -> None:
        async with asyncio.timeout(self.send_timeout_s):
            await websocket.send_text(text)

    async def _drop(self, websocket: WebSocket) -> None:
        self.clients.discard(websocket)
        try:
            await websocket.close(code=1001)
        except (RuntimeError, OSError):
            pass
