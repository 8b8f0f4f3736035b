"""Several `bench.booth_slices` runs as one figure per phase: the booth's own client, pooled (issue 31, item 4).

One run of one rehearsal gives three or four twin pairs a phase, and a pair's turn-2 ratio spreads by about
±0.08: it moves with how many of KV's follow-ups the router sends off a replica busy prefilling another opening
(a few percent, each a full re-prefill). So a figure for the booth's condition (one stack, one client) pools
every such run, each twin pair counted once, with two intervals:
- conversations resampled within each slice (`rehearsal.slice_stats.analyse`, as each run prints),
- slices as clusters (the page's delta method, loadgen.stats.slice_pool.compare_group, with a slice in place of a
  conversation): the honest one when slices differ by more than their conversations say.

    python -m bench.slices_pool out/bench/slices-1x4.json out/bench/slices-1x3.json --phase STEADY_AB

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from loadgen.stats.slice_pool import compare_group
from rehearsal.slice_stats import analyse, by_slice, pool, ttfts

SIDES = {"kv": "kv", "round-robin": "roundRobin"}


def load_run(path: Path) -> tuple[list[dict], list[dict]]:
    """A booth_slices output's (twin pairs, conversations), the conversations rebuilt from its per-turn records."""
    data = json.loads(path.read_text())
    conversations: dict[tuple[str, str], dict] = {}
    for turn in data["turns"]:
        key = (turn["slice"], turn["conversation"])
        conversation = conversations.setdefault(key, {"id": turn["conversation"], "slice": turn["slice"],
                                                      "workload": "chat", "turns": []})
        conversation["turns"].append({k: v for k, v in turn.items() if k not in ("slice", "conversation")})
    for conversation in conversations.values():
        conversation["turns"].sort(key=lambda t: t["turn"])
    return data["pairs"], list(conversations.values())


def pool_runs(paths: list[Path]) -> tuple[list[dict], list[dict]]:
    """Every file's pairs and conversations as one run's; a file's slice tags stay apart from another's."""
    return pool([load_run(path) for path in paths])


def slice_clustered(pairs: list[dict], conversations: list[dict], phase: str, group: str) -> dict:
    """KV / RR for one phase and turn group with each slice a cluster (its timed requests and their TTFT sum)."""
    tagged = by_slice(conversations)
    clusters: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for pair in pairs:
        if pair["phase"] != phase:
            continue
        for router, side in SIDES.items():
            values = ttfts(tagged.get(pair[side]["tag"], []), group)
            if values:
                clusters[router].append((len(values), math.fsum(values)))
    return compare_group(clusters["kv"], clusters["round-robin"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="bench.booth_slices outputs")
    parser.add_argument("--phase", action="append", help="phases to print (default: STEADY_AB and HIGH_LOAD)")
    args = parser.parse_args()
    phases = args.phase or ["STEADY_AB", "HIGH_LOAD"]
    print("| run | phase | pairs | turn 2 KV / RR [90%, conversations] |")
    print("|---|---|---|---|")
    for path in args.runs:
        pairs, conversations = load_run(path)
        result = analyse(pairs, conversations)
        for phase in phases:
            g = result.get(phase, {}).get("2")
            if g and "ratio" in g:
                count = sum(1 for p in pairs if p["phase"] == phase)
                print(f"| {path.name} | {phase} | {count} | {g['ratio']:.2f} [{g['low']:.2f}-{g['high']:.2f}] |")
    pairs, conversations = pool_runs(args.runs)
    result = analyse(pairs, conversations)
    for phase in phases:
        row = result.get(phase)
        if not row:
            continue
        count = sum(1 for p in pairs if p["phase"] == phase)
        print(f"\n## {phase}, pooled: {count} twin pairs, {row['conversations']['kv']} · "
              f"{row['conversations']['round-robin']} conversations\n")
        print("| turns | KV · RR (ms) | KV / RR [90%, conversations] | [90%, slices as clusters] | served from cache KV · RR |")
        print("|---|---|---|---|---|")
        for group in ("1", "2", "2+"):
            g = row[group]
            clustered = slice_clustered(pairs, conversations, phase, group)
            hits = " · ".join("–" if h is None else f"{h:.0%}" for h in g["hits"])
            print(f"| {group} | {g['kv_ms']:.0f} · {g['rr_ms']:.0f} | {g['ratio']:.2f} [{g['low']:.2f}-{g['high']:.2f}] | "
                  f"[{clustered['low']:.2f}-{clustered['high']:.2f}] | {hits} |")


if __name__ == "__main__":
    main()
