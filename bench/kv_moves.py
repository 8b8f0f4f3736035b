"""When does Dynamo's KV router move a follow-up off the replica holding its history? (issue 31, item 4)

Each move is a full re-prefill (~380 ms against a ~45 ms hit), so a few percent of moves set much of KV's turn-2
mean. This reads the per-request records two clients leave (send time, TTFT, duration, serving replica):
`bench.booth_slices` outputs (the booth's load generator) and `bench.aiperf_agreement` outputs (AIPerf, joined with
the frontend's routing log), and prints, per client, how often KV's turn-2 requests moved, split by what the
holding replica and the other one were doing at the moment the follow-up was sent: requests still before their
first token (prefilling, counted from the client's side) and requests in flight. A router that weighs pending
prefill (the booth's policy: prefill_load_scale 4) should move a follow-up mostly when its replica is prefilling
an opening and the other is not.

    python -m bench.kv_moves --booth out/bench/slices-70b-tp4-6x2.json --aiperf out/bench/aiperf_agreement.json

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path


def booth_groups(path: Path, phase: str) -> dict[str, list[dict]]:
    """A booth_slices output's KV slices of one phase; each slice (one rehearsal's) alone holds its replicas."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for turn in json.loads(path.read_text())["turns"]:
        if turn["slice"].endswith(f"-{phase}-kv"):
            groups[turn["slice"]].append(turn)
    return groups


def aiperf_groups(path: Path) -> dict[str, list[dict]]:
    """An aiperf_agreement output's KV rounds; a round's sessions are `s<seed>-<index>`."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for conversation in json.loads(path.read_text())["runs"]["kv"]:
        for turn in conversation["turns"]:
            groups[conversation["id"].rsplit("-", 1)[0]].append(dict(turn, conversation=conversation["id"]))
    return groups


def follow_up_states(turns: list[dict], turn_number: int = 2) -> list[dict]:
    """For each follow-up (turn `turn_number`): moved or not, and each replica's other requests at its send time."""
    timed = [t for t in turns if not t.get("error") and t.get("worker")
             and t.get("started_at") is not None and t.get("e2e_ms") is not None]
    by_conversation: dict[str, dict[int, dict]] = defaultdict(dict)
    for turn in timed:
        by_conversation[turn["conversation"]][turn["turn"]] = turn
    states = []
    for turns_of in by_conversation.values():
        previous, follow_up = turns_of.get(turn_number - 1), turns_of.get(turn_number)
        if not previous or not follow_up:
            continue
        sent = follow_up["started_at"]
        busy: dict[str, Counter] = defaultdict(Counter)
        for other in timed:
            if other is follow_up or not other["started_at"] <= sent < other["started_at"] + other["e2e_ms"] / 1000:
                continue
            first_token = other["started_at"] + (other["ttft_ms"] or 0) / 1000
            busy[other["worker"]]["prefilling" if sent < first_token else "decoding"] += 1
        holder = previous["worker"]
        others = [w for w in {t["worker"] for t in timed} if w != holder]
        elsewhere = Counter()
        for worker in others:
            elsewhere.update(busy[worker])
        states.append({"moved": follow_up["worker"] != holder, "ttft_ms": follow_up["ttft_ms"],
                       "holder_prefilling": busy[holder]["prefilling"], "other_prefilling": elsewhere["prefilling"],
                       "holder_in_flight": sum(busy[holder].values()), "other_in_flight": sum(elsewhere.values())})
    return states


def _rate(rows: list[dict]) -> str:
    moved = sum(r["moved"] for r in rows)
    return f"{moved}/{len(rows)}" + (f" ({moved / len(rows):.1%})" if rows else "")


def mean_split(states: list[dict]) -> dict:
    """KV's follow-up mean TTFT as what stayed plus what moved: a move re-prefills the whole history (~380 ms
    against a ~45 ms hit), so the share of moves, more than the hits' speed, sets where the mean lands."""
    stayed = [s["ttft_ms"] for s in states if not s["moved"]]
    moved = [s["ttft_ms"] for s in states if s["moved"]]
    n = len(states)
    from_stays, from_moves = (sum(stayed) / n, sum(moved) / n) if n else (None, None)
    return {"mean": from_stays + from_moves if n else None,
            "stayed": len(stayed), "stayed_mean": sum(stayed) / len(stayed) if stayed else None,
            "moved": len(moved), "moved_mean": sum(moved) / len(moved) if moved else None,
            "from_moves_ms": from_moves, "from_stays_ms": from_stays}


def report(name: str, states: list[dict]) -> None:
    print(f"\n### {name}: {_rate(states)} of KV's turn-2 requests moved\n")
    split = mean_split(states)
    if states:
        print(f"KV turn-2 mean {split['mean']:.0f} ms = {split['from_stays_ms']:.0f} from {split['stayed']} that stayed "
              f"(mean {split['stayed_mean']:.0f} ms) + {split['from_moves_ms']:.0f} from {split['moved']} moved"
              + (f" (mean {split['moved_mean']:.0f} ms)" if split["moved"] else "") + "\n")
    print("| at the follow-up's send | follow-ups | moved |")
    print("|---|---|---|")
    splits = {
        "holder prefilling, other not": lambda s: s["holder_prefilling"] > 0 and s["other_prefilling"] == 0,
        "both prefilling": lambda s: s["holder_prefilling"] > 0 and s["other_prefilling"] > 0,
        "holder not prefilling": lambda s: s["holder_prefilling"] == 0,
        "holder has more in flight": lambda s: s["holder_in_flight"] > s["other_in_flight"],
        "holder has as many or fewer": lambda s: s["holder_in_flight"] <= s["other_in_flight"],
    }
    for label, test in splits.items():
        rows = [s for s in states if test(s)]
        print(f"| {label} | {len(rows)} ({len(rows) / max(len(states), 1):.0%}) | {_rate(rows)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--booth", type=Path, nargs="*", default=[], help="bench.booth_slices outputs")
    parser.add_argument("--aiperf", type=Path, nargs="*", default=[], help="bench.aiperf_agreement outputs")
    parser.add_argument("--phase", default="STEADY_AB", help="the booth's phase to read (AIPerf replays one phase)")
    args = parser.parse_args()
    for path in args.booth:
        report(f"booth {path.name} {args.phase}",
               [s for turns in booth_groups(path, args.phase).values() for s in follow_up_states(turns)])
    for path in args.aiperf:
        report(f"AIPerf {path.name}", [s for turns in aiperf_groups(path).values() for s in follow_up_states(turns)])


if __name__ == "__main__":
    main()
