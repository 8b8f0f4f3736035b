"""The live feed (issue 16, item 8): one snapshot per tick for all clients, an Origin check, a connection cap."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def _ws(lg, **kwargs):
    return connect(lg.url.replace("http", "ws") + "/ws", open_timeout=10, **kwargs)


def test_snapshot_is_built_once_per_tick_whatever_the_number_of_clients(make_stub, make_loadgen):
    lg = make_loadgen(make_stub().url)
    broadcaster = lg.app.service.broadcaster
    with ExitStack() as stack:
        clients = [stack.enter_context(_ws(lg)) for _ in range(30)]
        for ws in clients:
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        before, started = broadcaster.snapshots_built, time.monotonic()
        for _ in range(3):  # three ticks, every client gets each one
            for ws in clients:
                assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        ticks = time.monotonic() - started
        built = broadcaster.snapshots_built - before
        # 30 clients x 3 messages, from at most one build per elapsed tick (+1 for a tick boundary).
        assert 3 <= built <= int(ticks / broadcaster.interval_s) + 1, (built, ticks)


def test_foreign_origin_is_refused_same_origin_and_no_origin_accepted(make_stub, make_loadgen):
    lg = make_loadgen(make_stub().url)
    with pytest.raises(InvalidStatus) as refused:
        _ws(lg, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    with _ws(lg, origin=lg.url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
    with _ws(lg) as ws:  # non-browser clients send no Origin
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"


def test_connections_over_the_cap_are_refused(make_stub, make_loadgen):
    lg = make_loadgen(make_stub().url, max_ws_clients=3)
    with ExitStack() as stack:
        held = [stack.enter_context(_ws(lg)) for _ in range(3)]
        for ws in held:
            ws.recv(timeout=10)
        with pytest.raises(InvalidStatus) as refused:
            _ws(lg)
        assert refused.value.response.status_code == 403
        assert lg.app.service.broadcaster.refused == 1
    # A slot frees when a client leaves.
    deadline = time.monotonic() + 10
    while lg.app.service.broadcaster.clients and time.monotonic() < deadline:
        time.sleep(0.05)
    with _ws(lg) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"


def test_a_binary_frame_closes_that_client_once_logged_and_the_feed_goes_on(make_stub, make_loadgen, caplog):
    """Re-audit (issue 22): a binary frame raised an unhandled KeyError per frame (1,460 frames grew the log
    5.8 MB in 10 s). Now the client is closed with 1003 and one line is logged, however many try."""
    from websockets.exceptions import ConnectionClosed
    lg = make_loadgen(make_stub().url)
    for _ in range(20):
        with _ws(lg) as ws:
            ws.recv(timeout=10)
            ws.send(b"\x00\x01binary")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert lg.app.service.broadcaster.binary_closed == 20
    logged = [r for r in caplog.records if "binary frame" in r.getMessage()]
    assert len(logged) <= 1 and not [r for r in caplog.records if r.exc_info], caplog.text[-2000:]
    with _ws(lg) as ws:  # the feed still serves
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
