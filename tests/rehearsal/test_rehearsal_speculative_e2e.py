"""The second layer, end to end: `make demo SPEC=eagle3` cuts ITL, and KV routing still cuts turn-2+ TTFT.

Two rehearsals in a row share one saved-runs file, as a presenter would run them: first without
speculative decoding (the baseline is saved), then, after a restart, with EAGLE3 modelled by the
mocker's burst sampling (rehearsal/speculative.py). Checks:
  * ITL p50 through the KV router is at least 1.5x lower with EAGLE3 than without (the model predicts
    1.94x from the H200 pieces at batch 8; 1.5x leaves room for a loaded machine and burst variance);
  * with EAGLE3, the mean TTFT of turns 2+ under KV routing stays below round-robin's;
  * the saved baseline survived the restart and the before/after line compares the two runs.
Bounded: 12 conversations of 3 turns per workload, three workloads, each with its own deadline.
"""

from __future__ import annotations

import json
import statistics
import time

import httpx
import pytest

from loadgen.workload.itl_runs import RunBook
from rehearsal.ports import pick_free
from rehearsal.settings import BOOTH
from rehearsal.speculative import SpecDecoding
from rehearsal.stack import Stack, StackConfig

WORKERS = 3  # as the routing e2e: round-robin's chance hit drops to ~1/3 (see test_rehearsal_e2e.py)
WORKLOAD = {
    "totalRPS": 2,
    "mix": {"a": 1.0, "b": 0, "c": 0},
    "maxConcurrency": 8,
    "turns": {"min": 3, "max": 3},
    "openingTokens": 3000,
    "thinkTimeMs": {"min": 500, "max": 1500},
    "maxConversations": 12,
    "maxTokens": 64,
}


def run_workload(ui: httpx.Client, router: str, timeout_s: float = 150.0) -> tuple[int, list[dict]]:
    run = ui.post("/api/workload/start", json=WORKLOAD | {"router": router}).raise_for_status().json()["run"]
    deadline = time.monotonic() + timeout_s
    while ui.get("/api/status").json()["state"] != "finished":
        assert time.monotonic() < deadline, f"{router} workload did not finish in {timeout_s:.0f}s"
        time.sleep(1.0)
    body = ui.get("/api/conversations", params={"run": run, "limit": 1000}).raise_for_status().json()
    return run, [turn for conv in body["conversations"] for turn in conv["turns"]]


def rehearse(spec: SpecDecoding, runs_file, work_dir, routers: tuple[str, ...]) -> dict[str, list[dict]]:
    """Start the rehearsal with `spec`, run one workload per router, save each run, stop everything."""
    kv_port, rr_port, ui_port = pick_free(3)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=ui_port, workers=WORKERS, router=BOOTH,
                         spec=spec, itl_runs_file=runs_file)
    records = {}
    with Stack(config, work_dir=work_dir) as stack:
        stack.wait_ready(timeout_s=120)
        with httpx.Client(base_url=config.ui_url, headers=config.control_headers, timeout=10.0) as ui:
            for router in routers:
                run, records[router] = run_workload(ui, router)
                ui.post("/api/itl/runs", json={"run": run, "label": f"{spec.method} {router}"}).raise_for_status()
    for router, recs in records.items():
        assert recs and not [r for r in recs if r["error"]], f"{spec.method}/{router} had failed turns"
    return records


def itl_p50(records: list[dict]) -> float:
    return statistics.median(r["itl_ms"] for r in records if r["itl_ms"] is not None)


def later_turns_ttft(records: list[dict]) -> float:
    return statistics.fmean(r["ttft_ms"] for r in records if r["turn"] >= 2)


@pytest.mark.e2e
def test_eagle3_cuts_itl_while_kv_routing_keeps_cutting_ttft(tmp_path):
    runs_file = tmp_path / "itl-runs.json"
    before = rehearse(SpecDecoding("none"), runs_file, tmp_path / "none", ("kv",))
    after = rehearse(SpecDecoding("eagle3", 3), runs_file, tmp_path / "eagle3", ("kv", "round-robin"))

    itl_before, itl_after = itl_p50(before["kv"]), itl_p50(after["kv"])
    ttft_kv, ttft_rr = later_turns_ttft(after["kv"]), later_turns_ttft(after["round-robin"])
    report = {"itl_p50_ms": (round(itl_before, 2), round(itl_after, 2)), "ratio": round(itl_before / itl_after, 2),
              "turn2+_ttft_mean_ms_kv_rr": (round(ttft_kv), round(ttft_rr))}
    print("speculative rehearsal:", report)

    assert itl_before >= 1.5 * itl_after, report
    assert ttft_kv < ttft_rr, report

    # The baseline outlived its load generator: the file holds all three runs and the line compares them.
    saved = json.loads(runs_file.read_text())["runs"]
    assert [r["method"] for r in saved] == ["none", "eagle3", "eagle3"]
    line = RunBook(runs_file).view()["line"]["kv"]
    assert line and "without speculative decoding" in line and "with EAGLE3" in line, line
