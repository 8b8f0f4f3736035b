"""Harness for the edge attacks of issue 28: the real `python -m loadgen serve` (its own process, so its event
loop is the one attacked) in front of the OpenAI stub, with the booth running a workload, and a watch that
measures what the booth would notice while an attack runs:
- the presenter (127.0.0.1, control token): GET /api/status, share answered within 2 s;
- the booth screen's live feed (the token holder's websocket): snapshots received vs ticks elapsed;
- the kubelet's probe (/healthz on the internal port): failures;
- the workload: completed requests per second (the load generator's own counter) vs the configured rate.
Attackers connect from 127.0.0.2 and up (any loopback address works on Linux), one address each.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
import psutil
from loadgen_testkit import REPO_ROOT, TOKEN, wait_for
from websockets.sync.client import connect

from rehearsal.ports import pick_free

AUTH = {"Authorization": f"Bearer {TOKEN}"}
WS_HANDSHAKE = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
# Poisson session starts: one-turn sessions at 40/s give ~1,000 in a 25 s window (sd ~3%), so the 10% bound
# measures the attack, not the draw (at 10/s with 2-3 turns the sd is ~10% and an idle run misses it).
WORKLOAD_RPS = 40.0
WORKLOAD = {"totalRPS": WORKLOAD_RPS, "maxConcurrency": 64, "turns": {"min": 1, "max": 1},
            "thinkTimeMs": {"min": 0, "max": 5}, "maxTokens": 8, "openingTokens": 500}


@dataclass
class Served:
    port: int
    internal: int
    proc: subprocess.Popen
    stub: subprocess.Popen
    workload_started: tuple[float, float] | None = None  # mark() when the workload last started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kb(self) -> int:
        text = open(f"/proc/{self.proc.pid}/status").read()
        return int(re.search(r"VmRSS:\s+(\d+)", text).group(1))

    def sockets_from(self, addresses) -> int:
        """TCP sockets the server process still holds whose peer is one of `addresses` (the attackers): what
        the attack pins, not the upstream pool or the watch's own clients, whose number moves with the load."""
        peers = set(addresses)
        return sum(1 for c in psutil.Process(self.proc.pid).net_connections(kind="tcp") if c.raddr and c.raddr[0] in peers)

    def completed(self) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.internal}/metrics", timeout=5).text
        return sum(float(m.group(1)) for m in re.finditer(r'^loadgen_requests_total\{[^}]*status="ok"[^}]*\} (\S+)$', text, re.M))


def serve(*extra: str) -> Served:
    """The stub (2 ms per token) and the load generator, both real processes; the workload started."""
    port, internal, stub_port = pick_free(3)
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'tests' / 'loadgen'}"}
    stub = subprocess.Popen([sys.executable, str(REPO_ROOT / "tests" / "loadgen" / "stub_openai.py"), "--port", str(stub_port),
                             "--ttft-ms", "5", "--itl-ms", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "serve", "--port", str(port), "--internal-port", str(internal),
         "--frontend-url", f"http://127.0.0.1:{stub_port}", "--model", "m", "--log-level", "warning",
         "--control-token", TOKEN, "--followup-url", "http://127.0.0.1:9/v1", "--followup-timeout", "0.2", *extra],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    served = Served(port, internal, proc, stub)
    wait_for(lambda: _ok(f"http://127.0.0.1:{internal}/healthz") and _ok(f"http://127.0.0.1:{stub_port}/health"),
             timeout_s=30, what="loadgen and stub")
    return served


def stop(served: Served) -> None:
    for proc in (served.proc, served.stub):
        proc.terminate()
    for proc in (served.proc, served.stub):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def start_workload(served: Served, **overrides) -> None:
    """Start (or reconfigure) the workload; a watch's rate counts from here."""
    with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as presenter:
        assert presenter.post("/api/workload/start", json=WORKLOAD | overrides).status_code == 200
    served.workload_started = mark(served)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Watch:
    """What the booth noticed during an attack (see the module docstring)."""

    status_ok: int = 0
    status_total: int = 0
    status_slow: list = field(default_factory=list)
    snapshots: int = 0
    ticks: float = 0.0
    health_failures: int = 0
    health_total: int = 0
    rate: float = 0.0
    stop_ok: int = 0
    stop_total: int = 0
    feed_error: str | None = None

    def summary(self) -> str:
        return (f"status {self.status_ok}/{self.status_total} within 2 s, Stop {self.stop_ok}/{self.stop_total}, "
                f"feed {self.snapshots} snapshots in {self.ticks:.1f} s, /healthz failures {self.health_failures}/"
                f"{self.health_total}, workload {self.rate:.1f} requests/s")

    def check(self, *, rate: float | None = WORKLOAD_RPS) -> None:
        print(f"[watch] {self.summary()} (configured {rate if rate is not None else 'n/a'})")
        assert self.feed_error is None, f"the booth's feed ended: {self.feed_error}"
        assert self.ticks >= 10, f"the feed was watched for {self.ticks:.1f} s only"
        assert self.status_total >= 10 and self.status_ok >= 0.95 * self.status_total, (
            f"presenter's status within 2 s: {self.status_ok}/{self.status_total} (slowest {sorted(self.status_slow)[-3:]})")
        assert self.stop_ok >= 0.95 * self.stop_total, f"presenter's Stop within 2 s: {self.stop_ok}/{self.stop_total}"
        assert self.snapshots >= 0.9 * self.ticks, f"feed: {self.snapshots} snapshots in {self.ticks:.0f} ticks"
        assert self.health_failures == 0, f"/healthz failed {self.health_failures} of {self.health_total}"
        if rate is not None:
            assert abs(self.rate - rate) <= 0.1 * rate, f"workload ran {self.rate:.1f} requests/s, configured {rate:g}"


def mark(served: Served) -> tuple[float, float]:
    """(completed requests, when): the time is the middle of the /metrics round trip, which a loaded machine
    can stretch to a good part of a second (its ends would shift the count by as many requests/s)."""
    before = time.monotonic()
    completed = served.completed()
    return completed, (before + time.monotonic()) / 2


def watch(served: Served, seconds: float, *, attack=None) -> Watch:
    """Run `attack(stop_event)` in a thread for `seconds` while measuring; then Stop, 10 times.

    The workload's rate counts from the workload's start, not the watch's: the engine catches up on arrivals
    it fell behind on (CPU contention, an attack's set-up before the watch), so a window that opens on a
    backlog reads over the configured rate (CI read 44.4/s for 40), and only a window that opens on none
    measures the rate the booth got."""
    result, done = Watch(), threading.Event()
    threads = [threading.Thread(target=target, args=(served, result, done), daemon=True)
               for target in (_presenter, _feed, _probe)]
    if attack is not None:
        threads.append(threading.Thread(target=attack, args=(done,), daemon=True))
    assert served.workload_started is not None, "watch() measures a workload: start_workload() first"
    before, started = served.workload_started
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    completed, now = mark(served)
    result.rate = (completed - before) / (now - started)
    with httpx.Client(base_url=served.url, headers=AUTH, timeout=2) as presenter:
        for _ in range(10):  # Stop while the attack still runs
            result.stop_total += 1
            try:
                result.stop_ok += presenter.post("/api/workload/stop").status_code == 200
            except httpx.HTTPError:
                pass
    done.set()
    for thread in threads:
        thread.join(timeout=20)
    return result


def _presenter(served: Served, result: Watch, done: threading.Event) -> None:
    with httpx.Client(base_url=served.url, headers=AUTH, timeout=2) as presenter:
        while not done.wait(0.25):
            result.status_total += 1
            started = time.monotonic()
            try:
                ok = presenter.get("/api/status").status_code == 200
            except httpx.HTTPError:
                ok = False
            result.status_ok += ok
            if not ok:
                result.status_slow.append(round(time.monotonic() - started, 2))


def _feed(served: Served, result: Watch, done: threading.Event) -> None:
    started = time.monotonic()
    try:
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        with connect(f"ws://127.0.0.1:{served.port}/ws", sock=sock, open_timeout=10,
                     subprotocols=["loadgen", f"bearer.{TOKEN}"], max_size=None) as ws:
            ws.recv(timeout=10)  # the snapshot sent on connect
            started = time.monotonic()
            while not done.is_set():
                try:
                    message = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                result.snapshots += message.get("type") == "snapshot"
    except Exception as exc:  # the feed ending is what the booth would notice: reported, never swallowed
        result.feed_error = f"{type(exc).__name__}: {exc}"
        done.wait()
    finally:
        result.ticks = time.monotonic() - started


def _probe(served: Served, result: Watch, done: threading.Event) -> None:
    while not done.wait(0.5):
        result.health_total += 1
        result.health_failures += not _ok_within(f"http://127.0.0.1:{served.internal}/healthz", 2.0)


def _ok_within(url: str, timeout_s: float) -> bool:
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


TCP_CLOSE_STATES = {7, 8, 9}  # TCP_CLOSE, TCP_CLOSE_WAIT (the server's FIN arrived), TCP_LAST_ACK


def peer_closed(sock: socket.socket) -> bool:
    """Whether the server closed or reset this connection, even with unread data still queued on our side."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] in TCP_CLOSE_STATES
    except OSError:
        return True


class Sockets:
    """Many raw connections driven from one thread (epoll), for attacks that hold sockets open."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.open: list[socket.socket] = []
        self.refused = 0

    def connect(self, port: int, source: str, data: bytes = b"", rcvbuf: int | None = None) -> socket.socket | None:
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((source, 0))
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", port))
            if data:
                sock.sendall(data)
        except OSError:
            sock.close()
            self.refused += 1
            return None
        sock.setblocking(False)
        self.open.append(sock)
        return sock

    def _each(self, act) -> None:
        """`act(sock)` on every open socket: one that would block is left for later, one that failed is dropped."""
        for sock in list(self.open):
            try:
                act(sock)
            except BlockingIOError:
                pass
            except OSError:
                self._gone(sock)

    def send_all(self, data: bytes) -> None:
        self._each(lambda sock: sock.send(data))

    def drain(self) -> None:
        """Read what is waiting (discarded); a socket the server closed is dropped from `open`."""
        for sock in list(self.open):
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        self._gone(sock)
                        break
            except BlockingIOError:
                pass
            except OSError:
                self._gone(sock)

    def trickle(self, nbytes: int) -> None:
        """Read at most `nbytes` from each socket: a client that reads, slowly (it answers no pings)."""
        self._each(lambda sock: sock.recv(nbytes))

    def forget_closed(self) -> int:
        """Drop the sockets the server has closed, without reading what they hold (TCP state, not data)."""
        gone = [sock for sock in self.open if peer_closed(sock)]
        for sock in gone:
            self._gone(sock)
        return len(gone)

    def still_open(self) -> int:
        self.drain()
        return len(self.open)

    def _gone(self, sock: socket.socket) -> None:
        if sock in self.open:
            self.open.remove(sock)
        sock.close()

    def close(self) -> None:
        for sock in list(self.open):
            self._gone(sock)
