"""`python -m loadgen serve|check` as the image, the cluster and the rehearsal run them (subprocesses, env vars)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from loadgen_testkit import REPO_ROOT, wait_for
from stub_openai import free_port


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADGEN_") and k != "GRADIENT_API_KEY"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def test_serve_reads_every_flag_from_env(make_stub):
    stub = make_stub()
    port = free_port()
    env = _env(
        LOADGEN_PORT=str(port),
        LOADGEN_HOST="127.0.0.1",
        LOADGEN_FRONTEND_URL=stub.url,
        LOADGEN_BASELINE_URL=stub.url,
        LOADGEN_MODEL="env-model",
        LOADGEN_CONTROL_TOKEN="env-token",
        GRADIENT_API_KEY="sk-never-log-me",
        LOADGEN_FOLLOWUP_URL=f"http://127.0.0.1:{free_port()}/v1",  # refused: falls back
    )
    proc = subprocess.Popen([sys.executable, "-m", "loadgen", "serve"], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout_s=30, what="serve to listen")
        status = httpx.get(base + "/api/status").json()
        assert status["model"] == "env-model" and status["authRequired"] and status["routers"] == ["kv", "round-robin", "ab"]
        assert status["followupSource"] == "gradient"
        assert httpx.post(base + "/api/workload/start", json={}).status_code == 401
        headers = {"Authorization": "Bearer env-token"}
        body = {"totalRPS": 40, "maxConversations": 2, "thinkTimeMs": {"min": 0, "max": 0}, "turns": {"min": 2, "max": 2}, "maxTokens": 4}
        assert httpx.post(base + "/api/workload/start", json=body, headers=headers).status_code == 200
        done = wait_for(lambda: (s := httpx.get(base + "/api/status").json())["state"] == "finished" and s, what="run to finish")
        assert done["counters"]["followupFallbacks"] == 2
        page = httpx.get(base + "/")
        assert page.status_code == 200 and "KV-aware routing" in page.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "sk-never-log-me" not in out and "env-token" not in out


def test_serve_flags_work_without_env(make_stub):
    stub = make_stub()
    port = free_port()
    args = ["serve", "--port", str(port), "--host", "127.0.0.1", "--frontend-url", stub.url, "--model", "flag-model"]
    proc = subprocess.Popen([sys.executable, "-m", "loadgen", *args], env=_env(), cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def status():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=1).json()
            except httpx.HTTPError:
                return None

        assert wait_for(status, timeout_s=30, what="serve")["model"] == "flag-model"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_without_frontend_url_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "loadgen", "serve", "--model", "m"], env=_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2 and "--frontend-url" in result.stderr


def _check(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "loadgen", "check", *args, "--opening-tokens", "2000", "--max-tokens", "4"]
    return subprocess.run(cmd, env=_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=90, check=False)


def test_check_passes_when_kv_ttft_drops(make_stub):
    # A miss ~400 ms dearer than a hit, as in the test below: at 60 ms per 1k tokens a cold CI run's scheduling
    # noise (one turn at 214 ms) read as a 19% drop for a 20% bound.
    kv = make_stub(ttft_ms=10, prefill_ms_per_1k=400)
    rr = make_stub(ttft_ms=10, prefill_ms_per_1k=400, prefix_cache=False)
    result = _check("--frontend-url", kv.url, "--baseline-url", rr.url, "--model", "m")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout
    table = result.stdout.split("TTFT per turn (ms)")[1]
    assert "kv" in table and "round-robin" in table
    assert [line.split()[0] for line in table.strip().splitlines()[1:6]] == ["1", "2", "3", "4", "5"]
    assert len(kv.stub.requests) == 6 and len(rr.stub.requests) == 6  # one completion + 5 turns each


def test_check_fails_when_kv_shows_no_drop(make_stub):
    # Prefill large against scheduling noise: one slow turn 1 on a busy machine must not read as a drop.
    flat = make_stub(ttft_ms=10, prefill_ms_per_1k=400, prefix_cache=False)
    result = _check("--frontend-url", flat.url, "--model", "m")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout


def test_check_fails_when_the_frontend_is_down():
    result = _check("--frontend-url", f"http://127.0.0.1:{free_port()}", "--model", "m")
    assert result.returncode == 2 and "FAILED" in result.stdout


def test_check_discovers_the_model_when_not_given(make_stub):
    result = _check("--frontend-url", make_stub().url)
    assert result.returncode == 2 and "pass --model" in result.stdout  # the stub has no /v1/models


def test_listening_beyond_loopback_needs_a_strong_token():
    """Re-audit (issue 22): a one-character token was accepted for a non-loopback bind."""
    import secrets

    import pytest

    from loadgen.settings import MIN_TOKEN_CHARS, Settings

    def bind(host, token):
        Settings(frontend_url="http://127.0.0.1:1", model="m", host=host, control_token=token).check_bind()

    bind("127.0.0.1", None)  # loopback: the presenter's laptop, no token needed
    bind("::1", "x")
    for token in (None, "x", "a" * (MIN_TOKEN_CHARS - 1)):
        with pytest.raises(ValueError, match="control-token"):
            bind("0.0.0.0", token)
    bind("0.0.0.0", secrets.token_urlsafe(24))
