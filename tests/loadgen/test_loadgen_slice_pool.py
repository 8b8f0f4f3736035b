"""Issue 31: the page's one number source (loadgen/stats/slice_pool.py): completed twin slices pooled, with the
requests behind each figure, a 90% interval that agrees with the rehearsal's bootstrap, and figures on too
few requests marked, not shown as results."""
import random

import pytest

from loadgen.stats.slice_pool import MIN_REQUESTS, pool
from rehearsal.slice_stats import interval


def conversations(rng, n, turns, hit_ms, miss_ms, hit_share):
    """n conversations of `turns` turns: turn 1 a prefill, later turns a hit or a miss (the booth's bimodal TTFT)."""
    out = []
    for _ in range(n):
        conv = [(1, rng.gauss(370, 20))]
        for t in range(2, turns + 1):
            conv.append((t, rng.gauss(hit_ms, 8) if rng.random() < hit_share else rng.gauss(miss_ms, 30)))
        out.append(tuple(conv))
    return tuple(out)


def as_rehearsal(convs):
    return [{"turns": [{"turn": t, "ttft_ms": ms, "error": None} for t, ms in conv]} for conv in convs]


def test_pooled_means_and_requests_are_every_pair_counted_once():
    rng = random.Random(3)
    pairs = [(conversations(rng, 25, 3, 55, 380, 0.95), conversations(rng, 25, 3, 55, 380, 0.5)) for _ in range(4)]
    pooled = pool(pairs)
    assert pooled["pairs"] == 4 and pooled["minRequests"] == MIN_REQUESTS
    g2 = pooled["groups"]["2"]
    assert (g2["kvRequests"], g2["rrRequests"]) == (100, 100)
    kv_turn2 = [ms for kv, _ in pairs for conv in kv for t, ms in conv if t == 2]
    assert g2["kvMs"] == pytest.approx(sum(kv_turn2) / len(kv_turn2), abs=0.05)
    assert pooled["groups"]["2+"]["kvRequests"] == 200 and pooled["groups"]["4"]["kvRequests"] == 0
    assert g2["enough"] and g2["ratio"] < 0.5 and g2["low"] < g2["ratio"] < g2["high"]
    assert not pooled["groups"]["4"]["enough"] and pooled["groups"]["4"]["ratio"] is None


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_interval_agrees_with_the_rehearsals_whole_conversation_bootstrap(seed):
    rng = random.Random(seed)
    kv, rr = conversations(rng, 60, 3, 55, 380, 0.93), conversations(rng, 60, 3, 55, 380, 0.5)
    ours = pool([(kv, rr)])["groups"]["2"]
    point, low, high = interval(as_rehearsal(kv), as_rehearsal(rr), "2")
    assert ours["ratio"] == pytest.approx(point, abs=0.002)
    # Both are 90% intervals of the same estimator: their ends agree within a fifth of the interval's width.
    width = high - low
    assert abs(ours["low"] - low) < 0.2 * width and abs(ours["high"] - high) < 0.2 * width, (ours, low, high)


def test_a_turn_with_too_few_requests_is_marked_not_shown():
    rng = random.Random(5)
    kv, rr = conversations(rng, MIN_REQUESTS - 1, 2, 55, 380, 0.9), conversations(rng, 40, 2, 55, 380, 0.5)
    g = pool([(kv, rr)])["groups"]["2"]
    assert g["kvRequests"] == MIN_REQUESTS - 1 and not g["enough"]
    assert g["ratio"] is not None  # computed, but the page shows "too few" instead of it


def test_no_pairs_pools_nothing():
    pooled = pool([])
    assert pooled["pairs"] == 0 and all(g["ratio"] is None and not g["enough"] for g in pooled["groups"].values())
