"""Issue 28: the booth keeps running whatever a client does. Each test is one attack of the audit (and its
obvious variants) on the real server, while the harness (edge_attack) measures what the booth would notice:
the presenter's status and Stop (>= 95% within 2 s), the live feed (>= 90% of its snapshots), /healthz
(never fails) and the workload (within 10% of its configured rate)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from edge_attack import AUTH, WS_HANDSHAKE, Sockets, serve, start_workload, stop, watch
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from loadgen.edge.views import PUBLIC_LIMIT

ATTACKERS = [f"127.0.0.{i}" for i in range(2, 10)]
VISITOR = "127.0.0.20"


@pytest.fixture
def served():
    s = serve()
    try:
        yield s
    finally:
        stop(s)


def _request(port: int, path: str = "/healthz", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()


@pytest.mark.parametrize("stray", [b"\r\n", b"\n", b"\r\n\r\n", b"\r"], ids=["crlf", "lf", "crlfcrlf", "cr"])
def test_bytes_between_requests_never_keep_a_connection(served, stray):
    """One request, then a stray byte every second: the idle deadline (5 s) holds whatever the byte."""
    conns = Sockets()
    for _ in range(20):
        conns.connect(served.port, ATTACKERS[0], _request(served.port))
    deadline = time.monotonic() + 9
    while time.monotonic() < deadline and conns.still_open():
        conns.send_all(stray)
        time.sleep(1)
    assert conns.still_open() == 0, f"{conns.still_open()} of 20 connections still open 9 s after their request"
    conns.close()


def test_at_the_connection_cap_a_new_connection_displaces_an_idle_one(served):
    """2,000 sockets that never send a byte (seven addresses, each under its cap) fill the public listener; the
    presenter's and the probe's fresh connections are still served at once, each displacing an idle holder,
    and no connection with a request in progress is cut."""
    from loadgen.edge.admission import CONNECTIONS

    conns = Sockets()
    for i in range(CONNECTIONS):
        conns.connect(served.port, ATTACKERS[i % 7])
    time.sleep(1)
    answered = []
    for _ in range(10):
        started = time.monotonic()
        try:
            ok = httpx.get(f"{served.url}/api/status", headers=AUTH, timeout=2).status_code == 200
        except httpx.HTTPError:
            ok = False
        answered.append(ok and time.monotonic() - started < 2)
        assert httpx.get(f"http://127.0.0.1:{served.internal}/healthz", timeout=2).status_code == 200
    assert all(answered), answered
    assert CONNECTIONS - 10 <= conns.still_open() < CONNECTIONS  # one holder displaced per newcomer, no more
    conns.close()


@pytest.mark.parametrize("stray", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_bytes_before_any_request_hit_the_header_deadline(served, stray):
    conns = Sockets()
    for _ in range(20):
        conns.connect(served.port, ATTACKERS[0], stray)
    deadline = time.monotonic() + 13
    while time.monotonic() < deadline and conns.still_open():
        conns.send_all(stray)
        time.sleep(1)
    assert conns.still_open() == 0, "stray bytes before a request line kept connections past the 10 s header deadline"
    conns.close()


def test_two_thousand_crlf_holders_stop_nothing(served):
    """The audit's attack: 2,000 connections (seven addresses, each under its cap), one request, then CR/LF
    every 3 s. They are all gone within the idle deadline; the booth notices nothing."""
    start_workload(served)
    conns = Sockets()

    def attack(done: threading.Event) -> None:
        for i in range(2000):
            conns.connect(served.port, ATTACKERS[i % 7], _request(served.port))
        while not done.wait(3):
            conns.send_all(b"\r\n")
            conns.drain()

    seen = watch(served, 25, attack=attack)
    seen.check()
    assert conns.still_open() == 0, f"{conns.still_open()} CR/LF holders still open after 25 s"
    conns.close()


def test_slow_readers_of_the_chart_library_leave_the_page_and_api_to_visitors(served):
    """200 connections (seven addresses, each under its caps) that never read the 210 KB chart library:
    visitors still load the page and the status, and the server lets go of the readers' sockets (the response
    leaves the process within the write deadline, or the connection is aborted)."""
    start_workload(served)
    time.sleep(2)
    conns, got = Sockets(), []
    path = "/static/vendor/chart.umd.min.js"

    def attack(done: threading.Event) -> None:
        for i in range(200):
            conns.connect(served.port, ATTACKERS[i % 7], _request(served.port, path), rcvbuf=2048)
        with httpx.Client(base_url=served.url, timeout=2, transport=httpx.HTTPTransport(local_address=VISITOR)) as visitor:
            while not done.wait(0.1):
                try:
                    page, status = visitor.get("/"), visitor.get("/api/status")
                    got.append(page.status_code == 200 and status.status_code == 200)
                except httpx.HTTPError:
                    got.append(False)

    seen = watch(served, 25, attack=attack)
    held = served.sockets_from(ATTACKERS)  # the 200 readers still hold their ends, unread
    seen.check()
    assert len(got) >= 50 and sum(got) >= 0.95 * len(got), f"visitor got the page and status {sum(got)}/{len(got)}"
    assert len(conns.open) == 200 and held == 0, f"the server still holds {held} sockets for 200 slow readers after 25 s"
    conns.close()


def test_pipelined_requests_a_reader_never_drains_are_cut_by_the_write_deadline(served):
    """The variant that outgrows the kernel's buffers: 20 connections each pipelining 30 requests for the chart
    library (6 MB) and never reading. The server aborts each within the write deadline instead of holding it."""
    start_workload(served)
    time.sleep(2)
    conns = Sockets()
    for i in range(20):
        conns.connect(served.port, ATTACKERS[i % 7], _request(served.port, "/static/vendor/chart.umd.min.js") * 30, rcvbuf=2048)
    seen = watch(served, 25)
    held = served.sockets_from(ATTACKERS)
    seen.check()
    assert held == 0, f"the server still holds {held} sockets of 20 readers that never drained, after 25 s"
    conns.close()


def test_looping_the_largest_public_list_does_not_slow_the_booth(served):
    """32 keep-alive clients looping GET /api/conversations?limit=5000 without the token, over a full store."""
    start_workload(served, totalRPS=150, maxConcurrency=200, turns={"min": 3, "max": 3})
    time.sleep(12)  # fill the store with conversations (the audit's list was 1.38 MB)
    with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as presenter:
        full = presenter.get("/api/conversations", params={"limit": 5000})
        assert full.json()["total"] >= 400 and len(full.content) > 500_000, (full.json()["total"], len(full.content))
    with httpx.Client(base_url=served.url, timeout=10) as anonymous:
        page = anonymous.get("/api/conversations", params={"limit": 5000}).json()
        assert page["limit"] == len(page["conversations"]) == PUBLIC_LIMIT and page["total"] >= 400
    start_workload(served)
    sizes: list[int] = []

    def attack(done: threading.Event) -> None:
        def loop(source: str) -> None:
            with httpx.Client(base_url=served.url, timeout=5, transport=httpx.HTTPTransport(local_address=source)) as client:
                while not done.is_set():
                    try:
                        sizes.append(len(client.get("/api/conversations", params={"limit": 5000}).content))
                    except httpx.HTTPError:
                        pass
        threads = [threading.Thread(target=loop, args=(ATTACKERS[0],), daemon=True) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    time.sleep(3)  # the rate settles
    seen = watch(served, 25, attack=attack)
    seen.check()
    assert sizes and max(sizes) < len(full.content) / 4, f"an anonymous list was {max(sizes)} bytes"


def test_clients_that_read_the_feed_slowly_are_dropped_not_waited_for(served):
    """20 live-feed clients that read 256 bytes every 0.2 s (the feed sends ~28 KB/s at 60 requests/s), replaced
    as the server drops them: the booth's own feed keeps its snapshots. On loopback the kernel's buffers absorb
    ~20 s of feed per client before a send blocks, so this run alone does not tell the designs apart (the code
    before issue 28 passes it too); test_one_stuck_client_never_delays_the_others does, without the kernel."""
    start_workload(served, totalRPS=60)
    conns, dropped = Sockets(), [0]

    def attack(done: threading.Event) -> None:
        i = 0
        while not done.wait(0.2):
            dropped[0] += conns.forget_closed()
            while len(conns.open) < 20 and not done.is_set():
                conns.connect(served.port, ATTACKERS[i % 4], WS_HANDSHAKE.format(port=served.port).encode(), rcvbuf=2048)
                i += 1
            conns.trickle(256)

    seen = watch(served, 25, attack=attack)
    seen.check(rate=60)
    conns.close()


@pytest.mark.parametrize("path", ["send-timeout", "queue-full"])
def test_one_stuck_client_never_delays_the_others(path):
    """The tick used to await every client's send (up to 5 s each): one client whose send never returns held
    the feed for everyone. Now each client has its own queue and writer: the others get every tick, and the
    stuck one is dropped, by its writer's send timeout or by its queue filling up, whichever comes first."""
    import asyncio

    from loadgen.edge.feed import Broadcaster

    class FakeSocket:
        def __init__(self, stuck: bool) -> None:
            self.stuck, self.got, self.closed = stuck, [], asyncio.Event()
            self.scope, self.client = {"subprotocols": []}, None

        async def accept(self, subprotocol=None) -> None:
            pass

        async def send_text(self, text: str) -> None:
            if self.stuck and self.got:
                await asyncio.Event().wait()  # a client whose socket never drains
            self.got.append(text)

        async def receive(self) -> dict:
            await self.closed.wait()
            return {"type": "websocket.disconnect"}

        async def close(self, code: int = 1000) -> None:
            self.closed.set()

    async def scenario() -> tuple[int, int, bool, int]:
        limits = {"send_timeout_s": 0.3} if path == "send-timeout" else {"send_timeout_s": 60.0, "queue_depth": 4}
        feed = Broadcaster(lambda: {"n": 1}, interval_s=0.05, **limits)
        good, stuck = FakeSocket(False), FakeSocket(True)
        tasks = [asyncio.create_task(feed.serve(ws)) for ws in (good, stuck)]
        await asyncio.sleep(0.01)
        feed.start()
        await asyncio.sleep(1.0)  # 20 ticks
        still_fed = stuck in feed.clients
        await feed.aclose()
        for ws in (good, stuck):
            ws.closed.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(good.got), len(stuck.got), still_fed, feed.dropped_slow

    good, stuck, still_fed, dropped = asyncio.run(scenario())
    assert good >= 0.8 * 20, f"the reading client got {good} of ~20 snapshots while another was stuck"
    assert not still_fed and dropped == 1 and stuck == 1, (stuck, still_fed, dropped)


def _closed_by_server(sock, within_s: float) -> bool:
    """Read (and discard) what is buffered until the server's close shows; False if still open after within_s."""
    deadline = time.monotonic() + within_s
    sock.setblocking(True)
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            return False
        except OSError:
            return True
    return False


@pytest.mark.parametrize("shape", ["one-long-value", "many-headers", "long-request-line"])
def test_a_never_ending_header_gets_431_and_costs_no_memory(served, shape):
    """The audit's 101 MB header took RSS from 161 to 353 MB; six, 570 MB. Six of 20 MB each now cost nothing."""
    before = served.rss_kb()
    conns, answers = Sockets(), []
    starts = {"one-long-value": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ",
              "many-headers": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n",
              "long-request-line": b"GET /" }
    chunk = {"one-long-value": b"a" * 65536, "many-headers": b"X-A: b\r\n" * 8192, "long-request-line": b"a" * 65536}
    for _ in range(6):
        sock = conns.connect(served.port, ATTACKERS[0], starts[shape])
        sock.setblocking(True)
        sock.settimeout(5)
        sent = 0
        try:
            while sent < 20 * 1024 * 1024:
                sock.sendall(chunk[shape])
                sent += len(chunk[shape])
        except OSError:
            pass
        try:
            answers.append(sock.recv(200))
        except OSError:
            answers.append(b"")
    grown_mb = (served.rss_kb() - before) / 1024
    print(f"[headers] {shape}: RSS {before / 1024:.0f} MB -> {served.rss_kb() / 1024:.0f} MB after 6 connections offering 20 MB each")
    assert grown_mb < 20, f"RSS grew {grown_mb:.0f} MB"
    if shape != "long-request-line":  # llhttp refuses an over-long URL itself? either way: closed, never kept
        assert all(a.startswith(b"HTTP/1.1 431") for a in answers), answers
    assert conns.still_open() == 0
    conns.close()


@pytest.mark.parametrize("name", ["Host", "Authorization", "Origin", "HOST"])
def test_a_duplicated_host_authorization_or_origin_is_refused(served, name):
    port = served.port
    values = {"host": (f"127.0.0.1:{port}", "evil.example"), "authorization": (f"Bearer {AUTH['Authorization'][7:]}", "Bearer x"),
              "origin": (f"http://127.0.0.1:{port}", "https://evil.example")}[name.lower()]
    extra = "".join(f"{name}: {v}\r\n" for v in values)
    base = "" if name.lower() == "host" else f"Host: 127.0.0.1:{port}\r\n"
    conns = Sockets()
    sock = conns.connect(port, ATTACKERS[0], f"POST /api/workload/stop HTTP/1.1\r\n{base}{extra}Content-Length: 0\r\n\r\n".encode())
    sock.setblocking(True)
    sock.settimeout(5)
    answer, deadline = b"", time.monotonic() + 5
    while time.monotonic() < deadline and (chunk := sock.recv(4096)):  # to the server's close
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 400") and b"more than one " + name.lower().encode() in answer, answer[:300]
    assert not chunk, "the connection stayed open after the refusal"
    conns.close()


def test_a_trusted_proxy_address_gets_a_bounded_share_of_connections():
    """From a trusted-proxy address 2,100 idle connections filled the shared accept cap alone (proxies were
    exempt). Now a proxy address gets CONNECTIONS_PER_PROXY (half the server's, it carries visitors'
    websockets); the presenter is unaffected."""
    from loadgen.edge.admission import CONNECTIONS, CONNECTIONS_PER_PROXY

    assert CONNECTIONS_PER_PROXY <= CONNECTIONS // 2
    served = serve("--trusted-proxies", f"{ATTACKERS[0]}/32")
    conns = Sockets()
    try:
        for _ in range(CONNECTIONS_PER_PROXY + 100):
            conns.connect(served.port, ATTACKERS[0], b"GET /healthz HTTP/1.1\r\n")  # headers never finished
        time.sleep(1)
        assert conns.still_open() <= CONNECTIONS_PER_PROXY, f"{conns.still_open()} connections kept from one proxy address"
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=2) as presenter:
            assert [presenter.get("/api/status").status_code for _ in range(20)] == [200] * 20
    finally:
        conns.close()
        stop(served)


def test_a_websocket_handshake_flood_is_refused_past_its_burst_and_the_feed_goes_on(served):
    """175 handshakes a second from one address took 89% of a core; past a burst of 60 they are refused (403)
    before any websocket work, and the booth's feed, status and probes carry on."""
    start_workload(served)
    answers: list[bytes] = []

    def attack(done: threading.Event) -> None:
        while not done.is_set() and len(answers) < 2000:
            conns = Sockets()
            for _ in range(50):
                sock = conns.connect(served.port, ATTACKERS[0], WS_HANDSHAKE.format(port=served.port).encode())
                if sock is not None:
                    sock.setblocking(True)
                    sock.settimeout(2)
                    try:
                        answers.append(sock.recv(64))
                    except OSError:
                        answers.append(b"")
            conns.close()
            done.wait(0.2)

    seen = watch(served, 15, attack=attack)
    seen.check()
    accepted = sum(a.startswith(b"HTTP/1.1 101") for a in answers)
    refused = sum(a.startswith(b"HTTP/1.1 403") for a in answers)
    assert len(answers) >= 500 and refused >= 0.8 * len(answers), f"{accepted} accepted, {refused} refused of {len(answers)}"
    assert accepted <= 60 + 5 * 16, f"{accepted} handshakes accepted from one address in ~15 s"


def test_handshake_lines_are_debug_not_info():
    """A handshake flood must not become a log flood: uvicorn's per-handshake info lines are demoted."""
    import logging

    from loadgen.server import QuietHandshakes

    quiet, logger = QuietHandshakes(), logging.getLogger("uvicorn.error")
    line = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, '%s - "WebSocket %s" [accepted]', ("1.2.3.4:5", "/ws"), None)
    old = logger.level
    try:
        logger.setLevel(logging.INFO)
        assert quiet.filter(line) is False and line.levelno == logging.DEBUG
        other = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Application startup complete.", (), None)
        assert quiet.filter(other) is True and other.levelno == logging.INFO
    finally:
        logger.setLevel(old)
