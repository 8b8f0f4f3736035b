"""Is round-robin's rotation strict, and is its cache-hit share the parity of the arrival sequence? (issue 31)

With two replicas and a strict rotation, a follow-up lands on the replica that served its previous turn exactly
when an odd number of requests were dispatched between the two. This benchmark runs one booth cycle on the
rehearsal (time slices, booth defaults), sorts each round-robin slice's requests by send time (the load
generator's per-turn records: send time and serving replica) and prints, per slice: how often one replica was
picked twice in a row (0 for a strict rotation), how many follow-ups found their previous turn's replica, and
how many had an odd number of dispatches in between (equal for a strict rotation). KV's slices are printed
beside them for contrast (their hits do not follow the parity).

    python -m bench.rr_rotation            # one cycle, ~6 minutes
    python -m bench.rr_rotation --slices 4  # warm-up and steady only

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from loadgen.workload.scenario import PHASES
from rehearsal.acceptance import rehearsals_at_once
from rehearsal.stack import configs_on_free_ports


def rotation(conversations: list[dict], tag: str) -> dict:
    """One slice's dispatch order: repeats (same replica twice in a row), follow-ups, hits, odd gaps, both."""
    turns = sorted((t["started_at"], t["worker"], c["id"], t["turn"]) for c in conversations if c.get("slice") == tag
                   for t in c["turns"] if not t["error"] and t.get("worker"))
    position = {(conv, turn): index for index, (_, _, conv, turn) in enumerate(turns)}
    by_conversation: dict[str, list[tuple]] = {}
    for record in turns:
        by_conversation.setdefault(record[2], []).append(record)
    followups = [(a, b) for records in by_conversation.values() for a, b in zip(records, records[1:])]

    def odd_gap(a, b) -> bool:
        return (position[(b[2], b[3])] - position[(a[2], a[3])] - 1) % 2 == 1

    return {"requests": len(turns), "repeats": sum(1 for a, b in zip(turns, turns[1:]) if a[1] == b[1]),
            "followups": len(followups), "same_replica": sum(1 for a, b in followups if a[1] == b[1]),
            "odd_gap": sum(1 for a, b in followups if odd_gap(a, b)),
            "agree": sum(1 for a, b in followups if (a[1] == b[1]) == odd_gap(a, b))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=2 * len(PHASES), help="twin slices to wait for (8: one cycle)")
    args = parser.parse_args()
    configs = configs_on_free_ports(1)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"rr-rotation-{configs[0].ui_port}"
    [(pairs, conversations)] = rehearsals_at_once(configs, work, args.slices, limit_s=1800)
    print("| slice | requests | same replica twice in a row | follow-ups | on their previous replica | odd gap | agree |")
    print("|---|---|---|---|---|---|---|")
    for pair in pairs:
        for side in ("roundRobin", "kv"):
            tag = pair[side]["tag"]
            row = rotation(conversations, tag)
            print(f"| {tag} | {row['requests']} | {row['repeats']} | {row['followups']} | {row['same_replica']} | "
                  f"{row['odd_gap']} | {row['agree']} |")


if __name__ == "__main__":
    main()
