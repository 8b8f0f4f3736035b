"""Several `bench.aiperf_agreement` runs as one held-out figure, beside the page's pooled one (issue 31, item 4).

One AIPerf run of 8 rounds x 24 conversations reads turn 2 KV / round-robin with a ±15% interval, and its rounds
spread widely: a round's KV mean moves with how many of its follow-ups meet their replica prefilling another
opening (35-84 ms over one run's eight rounds), and conversations within a round share that luck. So the
held-out figure is every run pooled, each round counted once (a round is one seed: `bench.aiperf_agreement` names
sessions `s<seed>-<n>`; a seed seen in an earlier file is left out and reported, as two runs started from one
`--seed-base` replay the same conversations), with two intervals:
- conversations resampled (the same bootstrap as a single run and as the page's bench),
- rounds as clusters (the delta method of the page's own pool, loadgen.stats.slice_pool, with a round in place of
  a conversation): the honest one when rounds differ by more than their conversations say.

    python -m bench.aiperf_pool out/bench/aiperf-*.json --pooled out/bench/slices-6x2.json

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from bench.aiperf_agreement import ROUTERS, pooled_figure
from loadgen.stats.slice_pool import compare_group
from rehearsal.slice_stats import hit_share, interval, ttfts


def round_seed_of(conversation: dict) -> str:
    """`s<seed>-<index>` -> `s<seed>`: the round (one router, one seed) the conversation was replayed in."""
    return conversation["id"].rsplit("-", 1)[0]


def pool_runs(paths: list[Path]) -> tuple[dict[str, dict[str, list[dict]]], list[str]]:
    """router -> round seed -> conversations, over every file; and the seeds left out as repeats of earlier ones."""
    rounds: dict[str, dict[str, list[dict]]] = {router: defaultdict(list) for router in ROUTERS}
    repeated: list[str] = []
    for path in paths:
        runs = json.loads(path.read_text())["runs"]
        for router in ROUTERS:
            fresh: dict[str, list[dict]] = defaultdict(list)
            for conversation in runs[router]:
                fresh[round_seed_of(conversation)].append(conversation)
            for seed, conversations in fresh.items():
                if seed in rounds[router]:
                    repeated.append(seed)
                else:
                    rounds[router][seed] = conversations
    return rounds, repeated


def round_clustered(rounds: dict[str, dict[str, list[dict]]], group: str) -> dict:
    """KV / RR with rounds as the clusters (each round: its timed requests of the group and their TTFT sum)."""
    clusters = {router: [(len(v), math.fsum(v)) for v in (ttfts(convs, group) for convs in rounds[router].values()) if v]
                for router in ROUTERS}
    return compare_group(clusters["kv"], clusters["round-robin"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="bench.aiperf_agreement outputs")
    parser.add_argument("--pooled", type=Path, help="a bench.booth_slices output: the page's pooled figure")
    parser.add_argument("--phase", default="STEADY_AB", help="the phase the AIPerf runs replayed")
    args = parser.parse_args()
    print("| run | rounds KV · RR | turn 2 KV / RR [90%, conversations] |")
    print("|---|---|---|")
    for path in args.runs:
        single, _ = pool_runs([path])
        kv, rr = ([c for cs in single[r].values() for c in cs] for r in ROUTERS)
        ratio, low, high = interval(kv, rr, "2")
        print(f"| {path.name} | {len(single['kv'])} · {len(single['round-robin'])} | {ratio:.2f} [{low:.2f}-{high:.2f}] |")
    rounds, repeated = pool_runs(args.runs)
    if repeated:
        print(f"\nLeft out as repeats of an earlier file's seed (the same conversations): {', '.join(sorted(repeated))}")
    kv, rr = ([c for cs in rounds[r].values() for c in cs] for r in ROUTERS)
    print(f"\n## Pooled: {len(rounds['kv'])} KV and {len(rounds['round-robin'])} round-robin rounds, "
          f"{len(kv)} · {len(rr)} conversations\n")
    print("| turns | KV · RR (ms) | KV / RR [90%, conversations] | [90%, rounds as clusters] | served from cache KV · RR |")
    print("|---|---|---|---|---|")
    ratios = {}
    for group in ("1", "2", "2+"):
        ratio, low, high = ratios[group] = interval(kv, rr, group)
        clustered = round_clustered(rounds, group)
        hits = " · ".join("–" if h is None else f"{h:.0%}" for h in (hit_share(kv, group), hit_share(rr, group)))
        print(f"| {group} | {clustered['kvMs']:.0f} · {clustered['rrMs']:.0f} | {ratio:.2f} [{low:.2f}-{high:.2f}] | "
              f"[{clustered['low']:.2f}-{clustered['high']:.2f}] | {hits} |")
    reference = pooled_figure(args.pooled, args.phase) if args.pooled else None
    if reference:
        ratio = ratios["2"][0]
        inside = reference["low"] <= ratio <= reference["high"]
        print(f"\nThe page's pooled {args.phase} turn 2 ({args.pooled.name}): {reference['ratio']:.2f} "
              f"[{reference['low']:.2f}-{reference['high']:.2f}]; AIPerf's pooled {ratio:.2f} is "
              f"{'inside' if inside else 'OUTSIDE'} that interval.")


if __name__ == "__main__":
    main()
