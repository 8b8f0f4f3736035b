"""The verification the cluster runs after `pulumi up` (`loadgen check`), against the real Dynamo frontends.

The same command and flags as the verification Job (components/verification.py), pointed at the
rehearsal: both frontends stream, the KV frontend serves turn 2 from cache by Dynamo's own account
(cached prompt tokens it reports, or its router's cached-prefix counter), and the UI answers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rehearsal.ports import pick_free
from rehearsal.stack import Stack, StackConfig

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_loadgen_check_passes_against_the_rehearsal_with_kv_turn_2_from_cache(tmp_path):
    kv_port, rr_port, ui_port = pick_free(3)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=ui_port, workers=2)
    report = tmp_path / "report.json"
    with Stack(config, work_dir=tmp_path / "rehearsal") as stack:
        stack.wait_ready(timeout_s=120)
        result = subprocess.run(
            [sys.executable, "-m", "loadgen", "check", "--frontend-url", config.kv_url, "--baseline-url", config.rr_url,
             "--public-url", config.ui_url, "--public-wait", "10", "--report", str(report)],
            cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
        )
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout + result.stderr
    body = json.loads(report.read_text())
    kv = body["routers"]["kv"]
    assert body["verdict"] == "pass" and body["public"]["ok"]
    assert kv["cached_tokens"][1] is not None, "Dynamo reported no cached tokens on turn 2"
    assert body["kvTurn2CachedFraction"] >= 0.5
    assert kv["router_cached_tokens_turn2"] is not None and kv["router_cached_tokens_turn2"] > 0
