"""The public edge (issue 16): auth before the body, size caps, strict input, Host/Origin, headers, route
exposure, slow clients, and the read-only viewer versus the token holder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from loadgen_testkit import FAST, REPO_ROOT, TOKEN, wait_for

from rehearsal.ports import pick_free

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def guarded(make_stub, make_loadgen):
    """Token configured; the client sends none unless a test adds it."""
    return make_loadgen(make_stub().url, make_stub().url, token=TOKEN, client_token=None, header_timeout_s=1.0, body_timeout_s=1.0)


def _rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _raw(port: int, data: bytes, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes, return what comes back before the server closes or the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except TimeoutError:
            pass
        return b"".join(chunks)


@pytest.fixture(scope="module")
def served():
    """`python -m loadgen serve` as a process of its own, so its memory can be read from /proc."""
    port, frontend = pick_free(2)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LOADGEN_CONTROL_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "serve", "--port", str(port), "--frontend-url", f"http://127.0.0.1:{frontend}", "--model", "m", "--log-level", "warning"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get_ok(url + "/healthz"), timeout_s=30, what="loadgen serve")
        yield proc, port, url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_tokenless_post_gets_401_before_a_byte_of_its_body_is_read(served):
    proc, port, _ = served
    # Announce 400 MB and send none of it: the answer must come at once, not after the body.
    head = (f"POST /api/workload/start HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 400000000\r\n\r\n").encode()
    started = time.monotonic()
    reply = _raw(port, head, read_timeout=5)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    assert time.monotonic() - started < 3


def test_tokenless_streamed_body_does_not_grow_memory(served):
    proc, port, url = served
    before = _rss_kib(proc.pid)
    chunk = b"[" + b"1," * (512 * 1024)

    def body():
        for _ in range(200):  # ~200 MB, chunked, no Content-Length
            yield chunk

    try:
        response = httpx.post(url + "/api/workload/start", content=body(), headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code == 401
    except httpx.HTTPError:
        pass  # the server answered and closed while we were still sending: also fine
    assert httpx.get(url + "/healthz").status_code == 200
    grown_mib = (_rss_kib(proc.pid) - before) / 1024
    assert grown_mib < 30, f"RSS grew {grown_mib:.0f} MiB on an unauthenticated body"


def test_body_over_the_cap_gets_413_even_with_the_token(guarded):
    big = {"totalRPS": 1, "pad": "x" * 70_000}
    assert guarded.http.post("/api/workload/config", json=big, headers=AUTH).status_code == 413
    # Declared too large: refused on the header alone.
    port = int(guarded.url.rsplit(":", 1)[1])
    head = (f"POST /api/workload/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 99999999\r\n\r\n").encode()
    assert _raw(port, head).startswith(b"HTTP/1.1 413")
    assert guarded.status()["config"]["totalRPS"] == 2


def test_bearer_scheme_is_case_insensitive(guarded):
    for scheme in ("bearer", "BEARER", "Bearer"):
        response = guarded.http.post("/api/workload/config", json={"totalRPS": 1.5}, headers={"Authorization": f"{scheme} {TOKEN}"})
        assert response.status_code == 200, scheme


@pytest.mark.parametrize("raw, wanted", [
    ('{"totalRPS": "3"}', "valid number"),
    ('{"totalRPS": true}', "valid number"),
    ('{"totalRPS": NaN}', "finite number"),
    ('{"maxConcurrency": 2.5}', "valid integer"),
    ('{"maxConcurrency": "10"}', "valid integer"),
])
def test_strict_input_types(guarded, raw, wanted):
    response = guarded.http.post("/api/workload/config", content=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert wanted in response.json()["message"]
    assert guarded.status()["config"]["totalRPS"] == 2


def test_a_huge_unknown_key_is_not_echoed(guarded):
    key = "k" * 15_000
    response = guarded.http.post("/api/workload/config", json={key: 1}, headers=AUTH)
    assert response.status_code == 422
    assert len(response.content) < 2_000 and "kkkk" in response.json()["message"]


def test_foreign_origin_and_simple_cross_site_posts_are_refused(make_stub, make_loadgen):
    lg = make_loadgen(make_stub().url)  # loopback, no token: the `make demo` shape before this issue
    refused = [
        lg.http.post("/api/scenario/auto", content="{}", headers={"Content-Type": "text/plain", "Origin": "https://evil.example"}),
        lg.http.post("/api/scenario/auto", content="{}", headers={"Content-Type": "text/plain"}),
        lg.http.post("/api/scenario/auto", json={}, headers={"Origin": "https://evil.example"}),
        lg.http.post("/api/scenario/auto", json={}, headers={"Sec-Fetch-Site": "cross-site"}),
    ]
    assert [r.status_code for r in refused] == [403, 415, 403, 403]
    assert lg.status()["scenario"]["mode"] == "manual"
    same_origin = lg.http.post("/api/workload/config", json={"totalRPS": 1}, headers={"Origin": lg.url})
    assert same_origin.status_code == 200


def test_foreign_host_is_refused_but_probes_pass(guarded):
    assert guarded.http.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert guarded.http.get("/api/status", headers={"Host": "evil.example:3000"}).status_code == 400
    assert guarded.http.get("/healthz", headers={"Host": "10.1.2.3:3000"}).status_code == 200


def test_security_headers_on_every_response(guarded):
    for path in ("/", "/api/status", "/static/app.js", "/nope"):
        headers = guarded.http.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in guarded.http.post("/api/workload/stop").headers  # the 401 too


def test_public_port_serves_only_the_booth(guarded):
    for path in ("/metrics", "/api/docs", "/api/openapi.json", "/api/redoc", "/docs"):
        assert guarded.http.get(path).status_code == 404, path
    assert "cdn.jsdelivr.net" not in guarded.http.get("/").text
    internal = httpx.Client(base_url=guarded.internal_url, timeout=10)
    assert "loadgen_requests_total" in internal.get("/metrics").text
    assert internal.get("/api/openapi.json").status_code == 200
    assert internal.get("/api/docs").status_code == 404  # no Swagger UI anywhere (it came from a CDN)
    assert internal.get("/").status_code == 404
    assert internal.post("/api/workload/start", json={}, headers=AUTH).status_code == 404


def test_internal_port_refuses_a_rebinding_host_name_and_serves_ip_hosts(guarded):
    """Re-audit (issue 22): the internal port (full conversation texts, /metrics) accepted any Host, so a page
    on a laptop could rebind its own name to 127.0.0.1 and read it. Now it answers our names and IP hosts
    (Prometheus scrapes the pod IP) only."""
    port = guarded.internal_url.rsplit(":", 1)[1]
    for host in ("attacker.example", f"rebind.attacker.example:{port}"):
        refused = httpx.get(guarded.internal_url + "/metrics", headers={"Host": host}, timeout=10)
        assert refused.status_code == 400 and "loadgen_requests_total" not in refused.text, host
    for host in (f"127.0.0.1:{port}", f"10.244.1.7:{port}", f"[::1]:{port}", "localhost"):
        assert "loadgen_requests_total" in httpx.get(guarded.internal_url + "/metrics", headers={"Host": host},
                                                     timeout=10).text, host


def test_viewer_watches_and_only_the_token_acts_or_reads_texts(guarded):
    with_token = httpx.Client(base_url=guarded.url, headers=AUTH, timeout=15)
    assert with_token.post("/api/workload/start", json={"totalRPS": 30, "maxConversations": 2, **FAST}).status_code == 200
    wait_for(lambda: guarded.status()["state"] == "finished", what="run to finish")
    conv_id = guarded.conversations()["conversations"][0]["id"]
    viewer = guarded.http.get(f"/api/conversations/{conv_id}").json()
    assert viewer["messagesHidden"] is True and viewer["messages"] == [] and viewer["turns"]
    holder = with_token.get(f"/api/conversations/{conv_id}").json()
    assert holder["messages"] and "messagesHidden" not in holder
    assert httpx.get(f"{guarded.internal_url}/api/conversations/{conv_id}").json()["messages"]
    assert guarded.http.post("/api/workload/reset").status_code == 401


def test_slow_headers_and_slow_bodies_are_cut_off(guarded):
    port = int(guarded.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server
        assert time.monotonic() - started < 5
    head = (f"POST /api/workload/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{").encode()
    assert _raw(port, head, read_timeout=8).startswith(b"HTTP/1.1 408")


def test_serve_binds_loopback_by_default_and_refuses_the_network_without_a_token():
    from loadgen.cli import build_parser, main

    args = build_parser().parse_args(["serve", "--frontend-url", "http://127.0.0.1:9", "--model", "m"])
    assert args.host == "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADGEN_")}
    proc = subprocess.run([sys.executable, "-m", "loadgen", "serve", "--host", "0.0.0.0", "--frontend-url", "http://127.0.0.1:9", "--model", "m"],
                          cwd=REPO_ROOT, env={**env, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "control-token" in proc.stderr
    assert main  # the same entry point the image runs


def test_openapi_document_is_valid_json_on_the_internal_port(guarded):
    spec = json.loads(httpx.get(guarded.internal_url + "/api/openapi.json").text)
    assert "/api/workload/start" in spec["paths"]
