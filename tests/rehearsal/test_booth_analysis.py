"""The bench's reading of the booth records: the bootstrap interval and what a slow KV cache hit waited behind."""

import math

import pytest

from bench.booth_analysis import is_hit, ratio_interval, report, slow_hit_blockers
from rehearsal.acceptance import ratios_from_records


def turn(conversation, number, router, started, ttft, worker, cached, prompt=7000):
    return {"conversation_id": conversation, "turn": number, "router": router, "started_at": started,
            "ttft_ms": ttft, "worker_id": worker, "cached_tokens": cached, "prompt_tokens": prompt}


def paired_conversations(count, kv_turn2_ms, rr_turn2_ms):
    records = []
    for i in range(count):
        records += [turn(f"k{i}", 1, "kv", i, 400, "w1", 0), turn(f"k{i}", 2, "kv", i + 0.5, kv_turn2_ms(i), "w1", 6900),
                    turn(f"r{i}", 1, "round-robin", i, 400, "w2", 0), turn(f"r{i}", 2, "round-robin", i + 0.5, rr_turn2_ms(i), "w1", 0)]
    return records


def test_a_follow_up_is_a_hit_when_most_of_its_prompt_was_cached():
    assert is_hit({"cached_tokens": 6900, "prompt_tokens": 7200})
    assert not is_hit({"cached_tokens": 32, "prompt_tokens": 7200})


def test_interval_brackets_the_ratio_and_is_wide_when_the_baseline_is_bimodal():
    # Round-robin's turn 2 is a hit (40 ms) or a whole re-prefill (400 ms): the mean swings with the mix.
    records = paired_conversations(40, lambda i: 40, lambda i: 40 if i % 2 else 400)
    point = ratios_from_records(records)["turn2"]
    low, high = ratio_interval(records, "turn2")
    assert math.isclose(point, 40 / 220)
    assert low < point < high
    assert high - low > 0.03
    steady = paired_conversations(40, lambda i: 40, lambda i: 220)
    assert ratio_interval(steady, "turn2") == pytest.approx((40 / 220, 40 / 220))


def test_a_slow_cache_hit_is_blamed_on_the_prefill_running_on_its_replica():
    records = [
        turn("rr", 2, "round-robin", 10.0, 400, "w1", 0),     # re-prefill on w1, 10.0-10.4 s
        turn("other", 1, "kv", 10.0, 400, "w2", 0),           # opening on the other replica: not a blocker
        turn("kv", 2, "kv", 10.1, 330, "w1", 6900),           # cached turn that arrived behind it
        turn("kv", 3, "kv", 20.0, 35, "w1", 7200, 7300),      # fast hit: not counted
    ]
    hits, slow, blockers = slow_hit_blockers(records)
    assert (hits, slow) == (2, 1)
    assert blockers == {"round-robin re-prefill": 1}
    assert "round-robin re-prefill 1 (100%)" in report(records)
