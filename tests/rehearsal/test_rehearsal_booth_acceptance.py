"""The booth's claim, end to end, as a visitor would check it: the rehearsal at its defaults, auto mode.

Starts the whole rehearsal on free ports exactly as `make demo` does (2 mocker workers timed from the
measured H100 table, the booth's router settings, the load generator with its defaults: 7k-token
openings, 2-4 turns, both routers on the same conversations), starts auto mode through the API and, after the
first four minutes of the schedule (warm-up, steady A/B, the first minute of high load), reads
`/metrics` (`loadgen_ttft_seconds` by router and turn) and the per-turn records. It gates what holds
run after run: both routers have traffic, turn 1 within 15%, KV keeps >= 90% of the ideal prefix hits on
turns 2+, and KV's turn 2 is clearly faster (KV / round-robin <= 0.75). Issue 11's tighter bounds
(turn 2 <= 0.5, turns >= 2 <= 0.6) are printed and reported by `python -m bench.booth`: measured
0.28-0.61 on turn 2 across full-length runs on this 2-core machine, and one run's own 90% bootstrap
interval spans about 0.27-0.54 (docs/rehearsal.md, "What the audience will see"), so gating on 0.5 would fail
about one run in four to one in three.

The schedule runs at full length (~4.5 minutes in all): with two replicas round-robin finds the cache by
chance on about half of its turn-2s, so the ratio over fewer conversations (the phases at double speed
gave 0.42-0.67 across runs) is too noisy to gate on. The high-load phase's own bound (turn 2 <= 0.35)
is reported by `python -m bench.booth` (README), not gated here.
The Stack context manager stops every process even when an assertion fails.
"""

from __future__ import annotations

import pytest

from bench import booth_analysis
from rehearsal.acceptance import AutoRun, Verdict, failures, format_table, mean_ttft_from_metrics, ratios
from rehearsal.ports import pick_free
from rehearsal.settings import BOOTH
from rehearsal.stack import Stack, StackConfig
from rehearsal.turn_stats import later_turns_hit_of_ideal

SPEEDUP = 1
FIRST_FOUR_MINUTES_S = 240 / SPEEDUP
GATE = Verdict(turn2_max=0.75, followups_max=0.9, turn1_tolerance=0.15)


@pytest.mark.e2e
def test_booth_defaults_in_auto_mode_show_the_kv_win(tmp_path):
    kv_port, rr_port, ui_port = pick_free(3)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=ui_port, router=BOOTH, loadgen_args=("--scenario-speedup", str(SPEEDUP)))
    assert config.workers == 2  # the booth's replica count
    with Stack(config, work_dir=tmp_path) as stack:
        stack.wait_ready(timeout_s=180)
        run = AutoRun(config.ui_url, token=config.control_token, metrics_url=config.ui_metrics_url)
        try:
            assert run.start()["scenario"]["phase"] == "WARM_UP"
            run.follow(FIRST_FOUR_MINUTES_S)
            metrics = run.metrics()
            records = run.records()
            phases = [p for p, _ in run.phases]
            run.stop()
        finally:
            run.close()

    result = ratios(mean_ttft_from_metrics(metrics))
    report = format_table("first four minutes of auto mode", result)
    print(report)  # shown with -s / on failure
    assert phases[:3] == ["WARM_UP", "STEADY_AB", "HIGH_LOAD"], phases
    assert not [r for r in records if r["error"]], "failed turns"
    print("issue-11 bounds (reported, not gated):", failures(result) or "all met")
    print(booth_analysis.report(records))
    assert failures(result, GATE) == [], report
    kv = [r | {"conversation": r["conversation"]} for r in records if r["router"] == "kv"]
    assert later_turns_hit_of_ideal(kv) >= 0.90, report
