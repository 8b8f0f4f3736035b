"""bench.aiperf_agreement's two halves that can be wrong without AIPerf installed: the trace it replays has the
booth's shape and load, and it reads AIPerf 0.13.0's real per-request export (a trimmed run, tests/rehearsal/data)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.aiperf_agreement import ANSWER_TOKENS, OPENING_TOKENS, ROUTERS, read_records, round_seed, routed_workers, write_trace

EXPORT = Path(__file__).parent / "data" / "aiperf-0.13.0" / "profile_export.jsonl"


def test_the_trace_has_the_booths_shape_and_offered_load(tmp_path):
    rows = [json.loads(line) for line in write_trace(tmp_path / "t.jsonl", 400, 1.5, seed=3).read_text().splitlines()]
    sessions: dict[str, list[dict]] = {}
    for row in rows:
        sessions.setdefault(row["session_id"], []).append(row)
    assert len(sessions) == 400
    for turns in sessions.values():
        first, later = turns[0], turns[1:]
        assert 2 <= len(turns) <= 4
        assert first["input_length"] == OPENING_TOKENS and "timestamp" in first and "delay" not in first
        assert all(1000 <= t["delay"] <= 3000 and t["input_length"] == 40 and "timestamp" not in t for t in later)
        assert all(t["output_length"] == ANSWER_TOKENS for t in turns)
    starts = [turns[0]["timestamp"] for turns in sessions.values()]
    requests_per_s = len(rows) / (max(starts) / 1000)
    assert starts == sorted(starts) and 1.3 < requests_per_s < 1.7  # the steady phase's 1.5 requests/s


def test_a_real_export_reads_as_conversations_by_turn():
    conversations = {c["id"]: c for c in read_records(EXPORT.parent)}
    assert set(conversations) == {"s1001-1", "s1001-3"}
    four = conversations["s1001-3"]["turns"]
    assert [t["turn"] for t in four] == [1, 2, 3, 4]
    assert all(t["error"] is None and t["ttft_ms"] > 0 for t in four)
    # Round-robin: turn 2 found its history (cached), turn 3 landed on the other replica and re-prefilled.
    assert four[1]["cached_tokens"] * 2 >= four[1]["prompt_tokens"] and four[2]["cached_tokens"] == 0
    assert four[2]["ttft_ms"] > 5 * four[1]["ttft_ms"]
    assert statistics.fmean(t["prompt_tokens"] for t in four) > OPENING_TOKENS  # history is resent every turn
    assert all(a["started_at"] + a["e2e_ms"] / 1000 <= b["started_at"] for a, b in zip(four, four[1:]))  # one turn at a time


def test_each_request_is_joined_with_the_replica_the_router_chose():
    """AIPerf cannot know which replica answered; the frontend's log line per request can (real lines of the same run):
    a follow-up that found history ran where an earlier turn ran (turn 4 found turn 2's), one that re-prefilled did not."""
    workers = routed_workers(EXPORT.parent / "frontend-round-robin.log")
    assert len(workers) == 6 and all(w.isdigit() for w in workers.values())
    four = {c["id"]: c for c in read_records(EXPORT.parent, workers)}["s1001-3"]["turns"]
    assert all(t["worker"] for t in four)
    assert [t["cached_tokens"] > 0 for t in four] == [False, True, False, True]
    for index, turn in enumerate(four[1:], start=1):
        served_before = {t["worker"] for t in four[:index]}
        assert (turn["worker"] in served_before) == (turn["cached_tokens"] > 0), turn["turn"]


def test_a_replayed_conversation_counts_once(tmp_path):
    """AIPerf may wrap past the dataset's end; the replay would find its prompts cached on either router."""
    lines = EXPORT.read_text().splitlines()
    replay = json.loads(lines[0])
    replay["metadata"]["x_correlation_id"] = "another-session"
    replay["metrics"]["time_to_first_token"]["value"] = 1.0
    (tmp_path / "profile_export.jsonl").write_text("\n".join([*lines, json.dumps(replay)]) + "\n")
    conversations = {c["id"]: c for c in read_records(tmp_path)}
    assert all(t["ttft_ms"] != 1.0 for c in conversations.values() for t in c["turns"])
    assert [t["turn"] for t in conversations[replay["metadata"]["conversation_id"]]["turns"]] == [1, 2]


def test_two_runs_with_different_seed_bases_replay_different_conversations(tmp_path):
    """Rounds pool as independent units only if no run repeats another's: the old seeds (1000 x round) made every
    run replay the same conversations. Within a run and across the drawn bases (multiples of 1000), no seed repeats."""
    seeds = [round_seed(base, round_, router) for base in (7000, 8000) for round_ in range(50) for router in ROUTERS]
    assert len(set(seeds)) == len(seeds)
    first = write_trace(tmp_path / "a.jsonl", 24, 1.5, round_seed(7000, 0, "kv")).read_text()
    second = write_trace(tmp_path / "b.jsonl", 24, 1.5, round_seed(8000, 0, "kv")).read_text()
    assert first != second
    assert not {json.loads(r)["session_id"] for r in first.splitlines()} & {json.loads(r)["session_id"] for r in second.splitlines()}
