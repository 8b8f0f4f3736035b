"""Hit-rate and TTFT statistics the end-to-end test and the benchmark both rely on."""

import math

import pytest

from rehearsal.turn_stats import later_turns_hit_of_ideal, percentile, summarize


def rec(conv, turn, prompt, cached, ttft, error=None):
    return {"conversation": conv, "turn": turn, "router": "kv", "ttft_ms": ttft, "prompt_tokens": prompt,
            "completion_tokens": 64, "cached_tokens": cached, "error": error}


def test_ideal_is_previous_prompt_in_whole_blocks():
    records = [rec("a", 1, 3015, 0, 200), rec("a", 2, 3105, 3008, 40)]
    turns = summarize(records)
    assert turns[1].ideal_rate == 0
    assert turns[2].ideal_rate == pytest.approx(3008 / 3105)  # 3015 // 32 * 32 = 3008
    assert turns[2].hit_of_ideal == pytest.approx(1.0)


def test_a_miss_counts_against_hit_of_ideal_and_extra_hits_do_not_help():
    records = [rec("a", 1, 3015, 0, 200), rec("a", 2, 3105, 3104, 40),  # more than ideal: capped
               rec("b", 1, 3015, 0, 200), rec("b", 2, 3105, 0, 210)]  # a miss
    assert later_turns_hit_of_ideal(records) == pytest.approx(0.5)


def test_failed_turns_are_left_out():
    records = [rec("a", 1, 3015, 0, 200), rec("a", 2, 3105, 0, None, error="timeout")]
    assert 2 not in summarize(records)
    assert math.isnan(later_turns_hit_of_ideal(records))


def test_percentile():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0
