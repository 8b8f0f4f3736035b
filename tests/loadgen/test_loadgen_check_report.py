"""`loadgen check` as the in-cluster verification runs it: cache evidence on KV turn 2, the public URL,
the JSON report, the short verdict for the Job's termination message, and the ConfigMap write."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import certifi
from fastapi import FastAPI, Request
from loadgen_testkit import REPO_ROOT
from stub_openai import ThreadedApp, free_port

from loadgen.kube_report import write_configmap_report


def _check(tmp_path, *args: str, timeout: int = 90) -> tuple[subprocess.CompletedProcess, dict, str]:
    report, summary = tmp_path / "report.json", tmp_path / "summary.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADGEN_")} | {"PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "loadgen", "check", *args, "--model", "m", "--opening-tokens", "2000", "--max-tokens", "4",
           "--report", str(report), "--summary-file", str(summary)]
    result = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    return result, json.loads(report.read_text()), summary.read_text()


def test_pass_reports_kv_turn_2_from_cache_and_the_public_ui(tmp_path, make_stub, make_loadgen):
    kv = make_stub(ttft_ms=10, prefill_ms_per_1k=60)
    rr = make_stub(ttft_ms=10, prefill_ms_per_1k=60, prefix_cache=False)
    ui = make_loadgen(kv.url, rr.url)
    result, report, summary = _check(tmp_path, "--frontend-url", kv.url, "--baseline-url", rr.url, "--public-url", ui.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["verdict"] == "pass" and report["failures"] == []
    assert report["kvTurn2CachedFraction"] >= 0.9  # the stub caches the whole previous prompt
    assert report["routers"]["round-robin"]["turn2CachedFraction"] == 0
    assert len(report["routers"]["kv"]["ttft_ms"]) == 5
    assert report["public"] | {"attempts": 1} == {"url": ui.url, "tls": "http", "ok": True, "attempts": 1,
                                                 "error": None, "model": "test-model"}
    assert summary.startswith("PASS") and "from cache" in summary


def test_kv_without_cache_evidence_fails_and_says_where_to_look(tmp_path, make_stub):
    # Prefix caching makes turn 2 fast, but the server reports no cached tokens and has no router counter.
    kv = make_stub(ttft_ms=10, prefill_ms_per_1k=60, report_cached=False)
    result, report, summary = _check(tmp_path, "--frontend-url", kv.url)
    assert result.returncode == 1, result.stdout + result.stderr
    failure = [f for f in report["failures"] if "from cache" in f["check"]]
    assert failure and "no cached tokens reported" in failure[0]["detail"]
    assert "publish-kv-events" in failure[0]["look_at"]
    assert summary.startswith("FAIL") and "look at:" in summary


def test_unreachable_public_url_fails_after_its_retries_with_every_other_check_still_run(tmp_path, make_stub):
    kv = make_stub(ttft_ms=10, prefill_ms_per_1k=60)
    public = f"http://127.0.0.1:{free_port()}"
    result, report, summary = _check(tmp_path, "--frontend-url", kv.url, "--public-url", public,
                                     "--public-wait", "3", "--public-retry", "0.4")  # 1 s: a loaded run fit one attempt
    assert result.returncode == 2, result.stdout + result.stderr
    assert report["public"]["ok"] is False and report["public"]["attempts"] >= 2
    assert [f["check"] for f in report["failures"]] == ["UI and API answer through the public URL"]
    assert report["kvTurn2CachedFraction"] >= 0.9  # the frontends were still checked
    assert "external-dns" in summary and "certificate" in summary


def test_report_is_merged_into_the_configmap_with_the_pod_token(tmp_path):
    seen: list[dict] = []
    api = FastAPI()

    @api.patch("/api/v1/namespaces/{namespace}/configmaps/{name}")
    async def patch(namespace: str, name: str, request: Request) -> dict:
        seen.append({"path": f"{namespace}/{name}", "auth": request.headers["authorization"],
                     "type": request.headers["content-type"], "body": await request.json()})
        return {}

    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("pod-token\n")
    (account / "ca.crt").write_text(open(certifi.where()).read())
    server = ThreadedApp(api).start()
    try:
        write_configmap_report("dynamo-workload", "verification-abc", {"summary": "PASS"}, account=account, server=server.url)
    finally:
        server.stop()
    assert seen == [{"path": "dynamo-workload/verification-abc", "auth": "Bearer pod-token",
                     "type": "application/merge-patch+json", "body": {"data": {"summary": "PASS"}}}]
