"""bench.rr_rotation's reading of a slice: a strict rotation's hits are the parity of the dispatches between turns."""

from bench.rr_rotation import rotation


def record(conv, turn, at, worker, error=None):
    return conv, {"turn": turn, "started_at": at, "worker": worker, "error": error}


def slice_of(*records, tag="c1-STEADY_AB-round-robin"):
    convs: dict[str, dict] = {}
    for conv, turn in records:
        convs.setdefault(conv, {"id": conv, "slice": tag, "turns": []})["turns"].append(turn)
    return list(convs.values())


def test_a_strict_rotation_hits_exactly_on_an_odd_gap():
    # dispatch order: a1 W1, b1 W2, c1 W1, a2 W2 (gap 2: miss), b2 W1 (gap 2: miss), c2 W2 (gap 2: miss),
    # d1 W1, a3 W2 (gap 1: hit, a2 was W2)
    convs = slice_of(record("a", 1, 1, "W1"), record("b", 1, 2, "W2"), record("c", 1, 3, "W1"), record("a", 2, 4, "W2"),
                     record("b", 2, 5, "W1"), record("c", 2, 6, "W2"), record("d", 1, 7, "W1"), record("a", 3, 8, "W2"))
    row = rotation(convs, "c1-STEADY_AB-round-robin")
    assert row == {"requests": 8, "repeats": 0, "followups": 4, "same_replica": 1, "odd_gap": 1, "agree": 4}


def test_a_repeated_replica_and_a_hit_off_parity_are_counted():
    # a1 W1, a2 W1 (gap 0: even, yet same replica): not a strict rotation
    convs = slice_of(record("a", 1, 1, "W1"), record("a", 2, 2, "W1"), record("b", 1, 3, "W2", error="timeout"))
    row = rotation(convs, "c1-STEADY_AB-round-robin")
    assert row == {"requests": 2, "repeats": 1, "followups": 1, "same_replica": 1, "odd_gap": 0, "agree": 0}
    assert rotation(convs, "another-slice")["requests"] == 0
