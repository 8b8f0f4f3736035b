"""bench.kv_moves reads who was busy when KV's router moved a follow-up; wrong counts would blame the wrong traffic."""

from __future__ import annotations

from bench.kv_moves import follow_up_states, mean_split


def _turn(conversation, turn, worker, started_at, ttft_ms, e2e_ms):
    return {"conversation": conversation, "turn": turn, "worker": worker, "started_at": started_at,
            "ttft_ms": ttft_ms, "e2e_ms": e2e_ms, "error": None}


def test_a_follow_up_sent_while_its_replica_prefills_an_opening_is_seen_as_such():
    turns = [
        _turn("a", 1, "W1", 0.0, 400, 3000), _turn("a", 2, "W2", 5.0, 400, 3000),  # moved
        _turn("b", 1, "W1", 4.9, 400, 3000),  # W1 prefills b's opening when a's turn 2 is sent
        _turn("c", 1, "W2", 1.0, 400, 3000), _turn("c", 2, "W2", 4.95, 30, 3000),  # stayed; W1 prefilling too
        _turn("d", 1, "W2", 2.0, 400, 5000),  # decoding on W2 until 7.0
    ]
    states = {s["moved"]: s for s in follow_up_states(turns)}
    moved, stayed = states[True], states[False]
    assert moved == {"moved": True, "ttft_ms": 400, "holder_prefilling": 1, "other_prefilling": 0, "holder_in_flight": 1,
                     "other_in_flight": 2}  # W2: c's turn 2 (prefilling until 4.98, not at 5.0: decoding) and d
    assert stayed["holder_prefilling"] == 0 and stayed["other_prefilling"] == 1 and stayed["holder_in_flight"] == 1


def test_failed_or_untimed_requests_are_left_out():
    turns = [_turn("a", 1, "W1", 0.0, 400, 3000), dict(_turn("a", 2, "W1", 5.0, 30, 3000), error="timeout"),
             _turn("b", 1, "W1", 0.0, 400, 3000), dict(_turn("b", 2, "W2", 5.0, 30, 3000), worker=None)]
    assert follow_up_states(turns) == []


def test_the_mean_splits_into_what_stayed_and_what_moved():
    """Two moves of 400 ms among ten follow-ups add 80 ms to a mean whose eight hits average 40: the split says so."""
    turns = []
    for i in range(10):
        moved = i < 2
        turns += [_turn(f"c{i}", 1, "W1", 10.0 * i, 400, 3000),
                  _turn(f"c{i}", 2, "W2" if moved else "W1", 10.0 * i + 5, 400 if moved else 40, 3000)]
    split = mean_split(follow_up_states(turns))
    assert split["moved"] == 2 and split["stayed"] == 8
    assert split["from_moves_ms"] == 80 and split["from_stays_ms"] == 32 and split["mean"] == 112
    assert split["stayed_mean"] == 40 and split["moved_mean"] == 400
