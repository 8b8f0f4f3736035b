"""rehearsal.slice_stats, which the bench and the acceptance e2e read the booth's time slices with: pooled
means per router and turn group, and which follow-ups were served from their cached history."""

from __future__ import annotations

import pytest

from rehearsal.slice_stats import analyse, hit_share, pool


def turn(n, ttft, prompt, cached, error=None):
    return {"turn": n, "ttft_ms": ttft, "prompt_tokens": prompt, "cached_tokens": cached, "error": error}


def conv(tag, *turns):
    return {"slice": tag, "workload": "chat", "turns": list(turns)}


KV = [conv("c1-STEADY_AB-kv", turn(1, 370, 7000, 32), turn(2, 40, 7300, 7000)),
      conv("c1-STEADY_AB-kv", turn(1, 360, 7100, 32), turn(2, 380, 7400, 32))]  # the router moved this follow-up
RR = [conv("c1-STEADY_AB-round-robin", turn(1, 370, 7000, 32), turn(2, 390, 7300, 32)),
      conv("c1-STEADY_AB-round-robin", turn(1, 360, 7100, 32), turn(2, 390, 7400, 32), turn(3, 30, 7700, 7400))]
PAIR = {"cycle": 1, "phase": "STEADY_AB", "kv": {"tag": "c1-STEADY_AB-kv"}, "roundRobin": {"tag": "c1-STEADY_AB-round-robin"}}


def test_a_moved_follow_up_is_not_counted_as_served_from_cache():
    assert hit_share(KV, "2") == 0.5
    assert hit_share(RR, "2") == 0.0
    assert hit_share(RR, "2+") == pytest.approx(1 / 3)


def test_failed_turns_and_turns_without_usage_are_left_out():
    convs = [conv("t", turn(2, 40, 7300, 7000), turn(2, None, None, None, error="timeout"), turn(2, 50, None, None))]
    assert hit_share(convs, "2") == 1.0
    assert hit_share([conv("t", turn(1, 300, 7000, 32))], "2") is None


def test_analyse_pools_a_phase_over_cycles_and_reports_the_cache_share():
    second = {**PAIR, "cycle": 2, "kv": {"tag": "c2-STEADY_AB-kv"}, "roundRobin": {"tag": "c2-STEADY_AB-round-robin"}}
    again = [conv("c2-STEADY_AB-kv", turn(1, 370, 7000, 32), turn(2, 60, 7300, 7000)),
             conv("c2-STEADY_AB-round-robin", turn(1, 370, 7000, 32), turn(2, 30, 7300, 7000))]
    row = analyse([PAIR, second], KV + RR + again)["STEADY_AB"]
    assert row["conversations"] == {"kv": 3, "round-robin": 3}
    assert row["2"]["kv_ms"] == pytest.approx((40 + 380 + 60) / 3)
    assert row["2"]["rr_ms"] == pytest.approx((390 + 390 + 30) / 3)
    assert row["2"]["ratio"] == pytest.approx(row["2"]["kv_ms"] / row["2"]["rr_ms"])
    assert row["2"]["hits"] == (pytest.approx(2 / 3), pytest.approx(1 / 3))


def test_rehearsals_run_at_once_pool_as_distinct_slices():
    """Three rehearsals each name their first steady slice c1-STEADY_AB-kv: pooled, every conversation counts
    once, each pair says which rehearsal it came from, and an untagged conversation stays untagged."""
    other = [conv("c1-STEADY_AB-kv", turn(1, 370, 7000, 32), turn(2, 60, 7300, 7000)),
             conv("c1-STEADY_AB-round-robin", turn(1, 370, 7000, 32), turn(2, 30, 7300, 7000)),
             {"slice": None, "workload": "chat", "turns": [turn(1, 999, 7000, 32)]}]
    pairs, conversations = pool([([PAIR], KV + RR), ([PAIR], other)])
    assert [p["rehearsal"] for p in pairs] == [0, 1]
    assert {p["kv"]["tag"] for p in pairs} == {"r0/c1-STEADY_AB-kv", "r1/c1-STEADY_AB-kv"}
    assert conversations[-1]["slice"] is None
    row = analyse(pairs, conversations)["STEADY_AB"]
    assert row["conversations"] == {"kv": 3, "round-robin": 3}  # unpooled, the shared tag would count each twice
    assert row["2"]["kv_ms"] == pytest.approx((40 + 380 + 60) / 3)
    assert PAIR["kv"]["tag"] == "c1-STEADY_AB-kv"  # the rehearsals' own records are left as they were
