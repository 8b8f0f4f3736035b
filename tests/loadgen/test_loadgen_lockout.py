"""The presenter cannot be locked out (issue 22, item 1).

The re-audit's attacks, from 127.0.0.2 (any loopback address works on Linux, so the attacker and the presenter
have addresses of their own, as they would at a booth): 449 token-less POSTs announcing a 1 GB body that then
trickle one byte, and 250 websockets that never read. Before the fix the presenter's status and Stop got 503,
40 of 40, and the booth screen's live feed was refused 20 of 20.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack

import httpx
import pytest
from loadgen_testkit import REPO_ROOT, TOKEN, wait_for
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from rehearsal.ports import pick_free

ATTACKER, VISITOR = "127.0.0.2", "127.0.0.3"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WS_HANDSHAKE = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
SLOW_BODY = ("POST /api/workload/stop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
             "Content-Length: 1000000000\r\n\r\n")


def _serve(**env):
    port, frontend = pick_free(2)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LOADGEN_CONTROL_TOKEN": TOKEN, **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "serve", "--port", str(port), "--frontend-url", f"http://127.0.0.1:{frontend}",
         "--model", "m", "--log-level", "warning"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), timeout_s=30, what="loadgen serve")
    return proc, port


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def served():
    proc, port = _serve()
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _open(port: int, source: str, data: bytes) -> socket.socket | None:
    """A connection from `source` that sends `data`; None when the server refused it on accept."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(data)
    except OSError:
        sock.close()
        return None
    return sock


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """Read (and discard) until the server closes; False if it is still open after within_s."""
    deadline = time.monotonic() + within_s
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except OSError:  # reset
            return True
    return False


def _ws(port: int, *, source: str = "127.0.0.1", token: str | None = None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    protocols = ["loadgen", f"bearer.{token}"] if token else None
    return connect(f"ws://127.0.0.1:{port}/ws", sock=sock, open_timeout=10, subprotocols=protocols)


def _presenter_gets_through(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=10) as presenter:
        codes = [presenter.get("/api/status").status_code for _ in range(20)]
        assert codes == [200] * 20, codes
        assert presenter.post("/api/workload/stop").status_code == 200
    with _ws(port, token=TOKEN) as booth:
        assert booth.subprotocol == "loadgen"
        assert json.loads(booth.recv(timeout=10))["type"] == "snapshot"


def test_slow_bodies_and_idle_websockets_do_not_lock_the_presenter_out(served):
    port = served
    with ExitStack() as stack:
        slow = [s for _ in range(449) if (s := _open(port, ATTACKER, SLOW_BODY.format(port=port).encode()))]
        for sock in slow:
            stack.callback(sock.close)
            try:
                sock.sendall(b"{")  # one more body byte, then silence
            except OSError:
                pass
        idle = [s for _ in range(250) if (s := _open(port, ATTACKER, WS_HANDSHAKE.format(port=port).encode()))]
        for sock in idle:
            stack.callback(sock.close)

        attack_ready = time.monotonic()
        _presenter_gets_through(port)
        with _ws(port, source=VISITOR) as visitor:  # an anonymous visitor elsewhere still gets the feed
            assert json.loads(visitor.recv(timeout=10))["type"] == "snapshot"

        # Every slow-body connection got its early reply and was closed; none waits for the rest of its body.
        still_open = [s for s in slow if not _closed_by_server(s, within_s=3)]
        assert not still_open, f"{len(still_open)} of {len(slow)} slow-body connections still open"
        # The websockets that never read answer no ping, and are dropped (pings every 5 s, 5 s to answer).
        still_open = [s for s in idle if not _closed_by_server(s, within_s=20)]
        assert not still_open, f"{len(still_open)} of {len(idle)} idle websockets still open"
        print(f"lock-out: {len(slow)} slow-body connections accepted (of 449), {len(idle)} idle websockets (of 250); "
              f"presenter 20/20 status + Stop + booth feed OK; all attacker sockets closed "
              f"{time.monotonic() - attack_ready:.1f}s after the attack was in place")


def test_an_early_reply_closes_even_a_get_with_an_unread_body(served):
    port = served
    sock = _open(port, ATTACKER, f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 1000000\r\n\r\nx".encode())
    with sock:
        assert sock.recv(12).startswith(b"HTTP/1.1 200")
        assert _closed_by_server(sock, within_s=3)


def test_the_token_holder_has_feed_slots_no_anonymous_client_can_take():
    proc, port = _serve(LOADGEN_MAX_WS_CLIENTS="3")
    try:
        with ExitStack() as stack:
            for n in range(3):  # the anonymous pool, filled from three addresses
                ws = stack.enter_context(_ws(port, source=f"127.0.0.{10 + n}"))
                ws.recv(timeout=10)
            with pytest.raises(InvalidStatus):
                _ws(port, source=VISITOR)
            with pytest.raises(InvalidStatus):  # a wrong token is just another anonymous client
                _ws(port, source=VISITOR, token="not-the-token-" + "x" * 20)
            with _ws(port, source=VISITOR, token=TOKEN) as booth:
                assert json.loads(booth.recv(timeout=10))["type"] == "snapshot"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_one_address_gets_only_its_share_of_the_feed(served):
    port = served
    with ExitStack() as stack:
        held = []
        for _ in range(60):
            try:
                held.append(stack.enter_context(_ws(port, source=ATTACKER)))
            except InvalidStatus:
                break
        assert len(held) == 50  # loadgen.edge.admission.WEBSOCKETS_PER_ADDRESS
        with _ws(port, source=VISITOR) as visitor:
            assert json.loads(visitor.recv(timeout=10))["type"] == "snapshot"


def test_behind_the_gateway_every_address_is_capped_ipv6_per_64_and_garbage_counts_as_the_proxy():
    """Issue 28: private addresses, the proxy itself and each IPv6 /64 get one share; a non-address forwarded
    value cannot mint a new identity."""
    from loadgen.edge.admission import Admission, address_key, client_address, networks

    proxy = networks(("10.112.0.0/16",))
    admission = Admission(anonymous=100, per_address=2)
    # Public addresses (as strings only: nothing is sent anywhere).
    assert [admission.enter("81.2.69.142", False) for _ in range(3)] == [True, True, False]  # a visitor's own share
    assert admission.enter("81.2.69.143", False)  # another visitor is not affected
    assert [admission.enter("10.110.0.5", False) for _ in range(3)] == [True, True, False]  # private: one client
    assert [admission.enter("10.112.3.4", False) for _ in range(3)] == [True, True, False]  # the proxy itself too
    # 120 addresses from one IPv6 /64 are one client; the next /64 is another.
    assert [admission.enter(f"2001:db8::{i:x}", False) for i in range(1, 121)].count(True) == 2
    assert admission.enter("2001:db8:0:1::1", False)
    assert address_key("::ffff:81.2.69.142") == "81.2.69.142" and address_key("unknown") is None
    admission.leave("81.2.69.142", False)
    assert admission.enter("81.2.69.142", False)

    envoy = "10.112.0.7"
    assert client_address(envoy, ["81.2.69.142"], proxy) == "81.2.69.142"
    assert client_address(envoy, ["203.0.113.9, 81.2.69.142"], proxy) == "81.2.69.142"  # a client's own prefix is ignored
    assert client_address(envoy, ["81.2.69.142, 10.112.0.9"], proxy) == "81.2.69.142"  # a second proxy hop is skipped
    assert client_address(envoy, ["81.2.69.142", "10.112.0.9"], proxy) == "81.2.69.142"  # two headers read as one list
    for garbage in ("unknown", "_hidden", "81.2.69.142:443x", "", "2001:db8::zz"):
        assert client_address(envoy, [f"203.0.113.9, {garbage}"], proxy) == envoy, garbage  # counted as the proxy
    assert client_address("81.2.69.200", ["1.2.3.4"], proxy) == "81.2.69.200"  # not a trusted peer: its header is ignored
