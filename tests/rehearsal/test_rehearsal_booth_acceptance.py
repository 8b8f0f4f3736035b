"""The booth's claim, end to end, as a visitor would check it: the rehearsal at its defaults, auto mode.

Starts the whole rehearsal on free ports exactly as `make demo` does (2 mocker workers timed from the
measured H100 table, the booth's router settings, the load generator with its defaults: 7k-token openings,
2-4 turns) and starts auto mode through the API. Auto mode gives the replicas to one router at a time: each
phase is a KV-aware slice and a round-robin slice from the same seed (same arrivals, documents, turn counts),
drained between. Each gated phase pools six twin pairs (~170-290 conversations a router), one from each of six
whole rehearsals run at once, each through its first cycle's warm-up, steady and high-load phases (~7.5 min; issue
30: one rehearsal running three cycles waited ~20 minutes on real time). The high-load ratio is the router near
saturation: a pair's turn-2 ratio moves by about +-0.1 (round-robin finds a history by chance about half the time;
KV's router moves 5-10% of follow-ups off a replica busy with another opening, each a ~370 ms re-prefill), and
three pooled pairs read 0.36-0.50 over eight runs, failing CI once at 0.50 / 0.61 (docs/testing.md). Six pairs halve
the pooled figure's variance; together the six use ~1.6 cores at the high-load peak (measured), still under two.
It reads the compared twin slices and the per-turn records and gates what holds run after run (docs/rehearsal.md
has the measured runs):
no errors, turn 1 within 15%, KV serving at least 80% of turn 2 from the cached history and round-robin at most
70%, KV's mean turn-2 TTFT at most GATE_TURN2 of round-robin's in steady and in
high load, and turns >= 2 at most GATE_FOLLOWUPS. How each router's turn 2 moves from steady to high load
is printed (measured x1.1-x1.5 for both: KV's hits wait behind other conversations' first turns too).
The Stack context manager stops every process even when an assertion fails.
"""

from __future__ import annotations

import pytest

from rehearsal.acceptance import rehearsals_at_once
from rehearsal.settings import BOOTH
from rehearsal.slice_stats import analyse, pool
from rehearsal.stack import configs_on_free_ports

FIRST_THREE_PHASES = ("WARM_UP", "STEADY_AB", "HIGH_LOAD")
REHEARSALS = 6  # run at once; each gated phase pools one twin pair from each
# What holds run after run (docs/rehearsal.md, "Time slices": at the booth defaults turn 2 0.25-0.38 and turns >= 2
# 0.26-0.47 over the H100 runs; one run's 90% interval on turn 2 reaches 0.67 with ~25 conversations a slice). Issue 21's tighter
# bounds (0.30 / 0.45) are printed and reported by `python -m bench.booth_slices`, not gated.
GATE_TURN2 = 0.5
GATE_FOLLOWUPS = 0.55
TURN1_TOLERANCE = 0.15
ISSUE_BOUNDS = {"2": 0.30, "2+": 0.45}
# Turn 2 served from its cached history (measured: KV 91-93%, the rest moved by the router off a replica busy
# with another opening; round-robin 42-50%, chance with 2 replicas).
KV_TURN2_FROM_CACHE_MIN = 0.8
RR_TURN2_FROM_CACHE_MAX = 0.7


@pytest.mark.e2e
def test_booth_time_slices_show_the_kv_win_in_steady_and_high_load(tmp_path):
    configs = configs_on_free_ports(REHEARSALS, router=BOOTH)
    assert {c.workers for c in configs} == {2}  # the booth's replica count
    pairs, conversations = pool(rehearsals_at_once(configs, tmp_path, len(FIRST_THREE_PHASES), limit_s=900))

    gated = [p for p in pairs if p["phase"] in FIRST_THREE_PHASES]
    result = analyse(gated, conversations)

    def line(phase, row):
        groups = ", ".join(f"{g} KV {row[g]['kv_ms']:.0f} ms / RR {row[g]['rr_ms']:.0f} ms = {row[g].get('ratio', float('nan')):.2f}"
                           f" [{row[g].get('low', float('nan')):.2f}-{row[g].get('high', float('nan')):.2f}]" for g in ("1", "2", "2+"))
        kv_hits, rr_hits = row["2"]["hits"]
        cached = "" if None in (kv_hits, rr_hits) else f"; turn 2 served from cache KV {kv_hits:.0%}, RR {rr_hits:.0%}"
        return f"{phase}: {groups}{cached}"
    report = "\n".join(line(phase, row) for phase, row in result.items())
    print(report)  # shown with -s / on failure
    assert [(p["rehearsal"], p["cycle"], p["phase"]) for p in gated] == [
        (r, 1, ph) for r in range(REHEARSALS) for ph in FIRST_THREE_PHASES], pairs
    assert not [t for c in conversations for t in c["turns"] if t["error"]], "failed turns"
    assert all(p[side]["cancelled"] == 0 for p in pairs for side in ("kv", "roundRobin")), "a drain ran out of time"
    for phase in ("STEADY_AB", "HIGH_LOAD"):
        row = result[phase]
        assert abs(row["1"]["ratio"] - 1) <= TURN1_TOLERANCE, report
        assert row["2"]["ratio"] <= GATE_TURN2, report
        assert row["2+"]["ratio"] <= GATE_FOLLOWUPS, report
        kv_hits, rr_hits = row["2"]["hits"]
        assert kv_hits >= KV_TURN2_FROM_CACHE_MIN and rr_hits <= RR_TURN2_FROM_CACHE_MAX, report
    steady, high = result["STEADY_AB"]["2"], result["HIGH_LOAD"]["2"]
    print(f"turn 2 steady -> high load: KV x{high['kv_ms'] / steady['kv_ms']:.2f}, round-robin x{high['rr_ms'] / steady['rr_ms']:.2f}")
    missed = [f"{phase} {g} {result[phase][g]['ratio']:.2f} > {bound}" for phase in ("STEADY_AB", "HIGH_LOAD")
              for g, bound in ISSUE_BOUNDS.items() if result[phase][g]["ratio"] > bound]
    print("issue-21 bounds (reported, not gated):", missed or "all met")
