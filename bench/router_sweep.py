"""Router benchmark: per-turn TTFT and prefix-hit rate, KV (default vs booth settings) vs round-robin.

Runs the real Dynamo frontends over mocker workers (rehearsal.stack) and drives
them with bench.conversation_driver, one router at a time so they never share
load. Three KV-side frontends run over the same workers: Dynamo defaults, the
booth settings, and round-robin.

    python -m bench.router_sweep table            # demo setting: 2 replicas, STEADY_STATE, 3k openings
    python -m bench.router_sweep sweep            # replicas 2/4/8, the four load phases, openings 500/2k/8k
    python -m bench.router_sweep candidates       # router-setting candidates at STEADY_STATE (choosing the booth's)
    python -m bench.router_sweep plot             # redraw the PNG from the last table run

Options shorten runs (--conversations, --phases, --replicas, --openings).
Writes raw records to out/bench/*.json and the README's PNG to docs/img/ttft_by_turn.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import textwrap
from dataclasses import replace
from pathlib import Path

from bench.conversation_driver import Workload, as_dicts, drive
from rehearsal.ports import pick_free
from rehearsal.settings import BOOTH, DYNAMO_DEFAULTS, RouterSettings
from rehearsal.stack import Stack, StackConfig, wait_for_frontend
from rehearsal.turn_stats import later_turns_hit_of_ideal, percentile, summarize, ttft_values

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "bench"
PNG = REPO / "docs" / "img" / "ttft_by_turn.png"
PLOT_PREFIX = "TTFT by turn, local rehearsal (Dynamo 1.6.1 frontends over calibrated trtllm mocker): "

# The load generator's auto-mode phases (seed 000): requests/s and max concurrency.
PHASES = {
    "RAMP_UP": (1.0, 5),
    "STEADY_STATE": (2.0, 10),
    "HIGH_LOAD": (4.0, 20),
    "COOLDOWN": (0.5, 5),
}
CANDIDATES = {
    "defaults": DYNAMO_DEFAULTS,
    "credit8": RouterSettings(overlap_score_credit=8.0, temperature=0.0),
    "scale4": RouterSettings(prefill_load_scale=4.0),
    "credit8-scale4": RouterSettings(overlap_score_credit=8.0, prefill_load_scale=4.0),
    "booth": BOOTH,
}


def base_workload(args: argparse.Namespace, phase: str = "STEADY_STATE", opening: int = 3000) -> Workload:
    rps, concurrency = PHASES[phase]
    return Workload(conversations=args.conversations, turns=args.turns, opening_tokens=opening, rps=rps,
                    max_concurrency=concurrency, think_ms=(1000, 3000), max_tokens=args.max_tokens, seed=args.seed)


class Bench:
    """One stack per replica count; extra KV frontends for each router-settings variant."""

    def __init__(self, replicas: int, variants: dict[str, RouterSettings]) -> None:
        ports = pick_free(2 + len(variants))
        self.stack = Stack(StackConfig(kv_port=ports[0], rr_port=ports[1], ui_port=None, workers=replicas,
                                       router=DYNAMO_DEFAULTS))
        self.replicas = replicas
        self.urls = {"round-robin": self.stack.config.rr_url}
        self._variants = dict(zip(variants, ports[2:]))
        self._settings = variants

    def __enter__(self) -> Bench:
        self.stack.__enter__()
        self.stack.wait_ready(180)
        for name, port in self._variants.items():
            self.urls[f"kv:{name}"] = self.stack.add_kv_frontend(f"frontend-kv-{name}", port, self._settings[name])
        for url in self.urls.values():
            wait_for_frontend(self.stack, url, self.replicas)
        return self

    def __exit__(self, *exc) -> None:
        self.stack.__exit__(*exc)

    def run(self, router: str, workload: Workload, tag: str) -> list[dict]:
        records = as_dicts(asyncio.run(drive(self.urls[router], router, workload, tag=tag)))
        self.stack.supervisor.check_alive()
        return records


def row(router: str, records: list[dict], rr_records: list[dict] | None) -> dict:
    turns = summarize(records)
    rr_turns = summarize(rr_records) if rr_records else {}
    all_ttft = ttft_values(records)
    t2 = turns.get(2)
    rr2 = rr_turns.get(2)
    return {
        "router": router,
        "turns": {t: vars(s) | {"hit_of_ideal": s.hit_of_ideal} for t, s in turns.items()},
        "hit_of_ideal_2plus": later_turns_hit_of_ideal(records),
        "ttft_p95_all": percentile(all_ttft, 95),
        "ttft_mean_all": sum(all_ttft) / len(all_ttft) if all_ttft else math.nan,
        "turn2_mean_vs_rr": (t2.ttft_mean / rr2.ttft_mean) if t2 and rr2 else math.nan,
        "errors": sum(1 for r in records if r.get("error")),
    }


def print_turn_table(title: str, results: dict[str, list[dict]]) -> None:
    rr = results.get("round-robin")
    print(f"\n### {title}\n")
    print("| router | turn | n | TTFT p50 | p95 | mean | hit | ideal | hit/ideal | mean vs RR |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rr_turns = summarize(rr) if rr else {}
    for router, records in results.items():
        for turn, s in summarize(records).items():
            ratio = s.ttft_mean / rr_turns[turn].ttft_mean if turn in rr_turns else math.nan
            print(f"| {router} | {turn} | {s.count} | {s.ttft_p50:.0f} | {s.ttft_p95:.0f} | {s.ttft_mean:.0f} | "
                  f"{s.hit_rate:.0%} | {s.ideal_rate:.0%} | {s.hit_of_ideal:.0%} | {ratio:.2f} |")
    print("\n| router | hit/ideal turns 2+ | TTFT p95 all turns | TTFT mean all | turn-2 mean KV/RR | errors |")
    print("|---|---|---|---|---|---|")
    for router, records in results.items():
        r = row(router, records, rr)
        print(f"| {router} | {r['hit_of_ideal_2plus']:.0%} | {r['ttft_p95_all']:.0f} | {r['ttft_mean_all']:.0f} | "
              f"{r['turn2_mean_vs_rr']:.2f} | {r['errors']} |")


def save(name: str, payload) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(payload, indent=1))


def plot(results: dict[str, list[dict]], title: str, path: Path = PNG) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    styles = {"round-robin": ("tab:red", "o"), "kv:defaults": ("tab:gray", "s"), "kv:booth": ("tab:green", "^")}
    for router, records in results.items():
        turns = summarize(records)
        xs = list(turns)
        color, marker = styles.get(router, (None, "x"))
        ax.plot(xs, [turns[t].ttft_mean for t in xs], marker=marker, color=color, label=f"{router} mean")
        ax.plot(xs, [turns[t].ttft_p95 for t in xs], linestyle=":", color=color, alpha=0.6, label=f"{router} p95")
    ax.set_xlabel("conversation turn")
    ax.set_ylabel("TTFT (ms)")
    ax.set_xticks(sorted({t for recs in results.values() for t in summarize(recs)}))
    ax.set_ylim(bottom=0)
    ax.set_title(textwrap.fill(title, 90), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run_table(args) -> None:
    """The demo's real setting; also writes the PNG."""
    variants = {"defaults": DYNAMO_DEFAULTS, "booth": BOOTH}
    workload = base_workload(args)
    with Bench(2, variants) as bench:
        results = {name: bench.run(name, workload, "table-") for name in ("kv:defaults", "kv:booth", "round-robin")}
    save("table", results)
    title = (f"2 replicas, {workload.rps:g} RPS, concurrency {workload.max_concurrency}, "
             f"{workload.conversations} conversations x {workload.turns} turns, {workload.opening_tokens}-token openings")
    print_turn_table(title, results)
    plot(results, PLOT_PREFIX + title)
    print(f"\nwrote {PNG.relative_to(REPO)}")


def run_plot(args) -> None:
    """Redraw the PNG from the last `table` run's records (out/bench/table.json)."""
    results = json.loads((OUT / "table.json").read_text())
    print_turn_table("last table run", results)
    plot(results, PLOT_PREFIX + "2 replicas, STEADY_STATE (2 RPS, concurrency 10), 3000-token openings")


def run_candidates(args) -> None:
    names = args.candidates or list(CANDIDATES)
    variants = {n: CANDIDATES[n] for n in names}
    workload = base_workload(args)
    results = {}
    with Bench(2, variants) as bench:
        for rep in range(args.repeats):
            w = replace(workload, seed=args.seed + rep)
            for name in [f"kv:{n}" for n in names] + ["round-robin"]:
                results.setdefault(name, []).extend(bench.run(name, w, f"cand{rep}-"))
    save("candidates", results)
    print_turn_table(f"Router candidates at STEADY_STATE, 2 replicas, {args.repeats} repeat(s)", results)


def run_sweep(args) -> None:
    variants = {"defaults": DYNAMO_DEFAULTS, "booth": BOOTH}
    summary = []
    for replicas in args.replicas:
        with Bench(replicas, variants) as bench:
            points = [("STEADY_STATE", 3000)] if replicas != 2 else []
            if replicas == 2:
                points += [(phase, 3000) for phase in args.phases]
                points += [("STEADY_STATE", o) for o in args.openings if o != 3000]
            for phase, opening in points:
                workload = base_workload(args, phase, opening)
                results = {n: bench.run(n, workload, f"sw{replicas}{phase}{opening}-")
                           for n in ("kv:defaults", "kv:booth", "round-robin")}
                rr = results["round-robin"]
                for name, records in results.items():
                    summary.append({"replicas": replicas, "phase": phase, "opening": opening} | row(name, records, rr))
                print_sweep(summary[-3:], header=not summary[:-3])
    save("sweep", summary)


def print_sweep(rows: list[dict], header: bool) -> None:
    if header:
        print("\n| replicas | load | opening | router | hit/ideal 2+ | turn-2 mean TTFT | turn-2 KV/RR | p95 all | errors |")
        print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        t2 = r["turns"].get(2, {}).get("ttft_mean", math.nan)
        print(f"| {r['replicas']} | {r['phase']} | {r['opening']} | {r['router']} | {r['hit_of_ideal_2plus']:.0%} | "
              f"{t2:.0f} | {r['turn2_mean_vs_rr']:.2f} | {r['ttft_p95_all']:.0f} | {r['errors']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("table", "sweep", "candidates", "plot"))
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="candidates mode: runs per setting")
    parser.add_argument("--candidates", nargs="*", choices=sorted(CANDIDATES))
    parser.add_argument("--replicas", type=int, nargs="*", default=[2, 4, 8])
    parser.add_argument("--phases", nargs="*", default=list(PHASES), choices=list(PHASES))
    parser.add_argument("--openings", type=int, nargs="*", default=[500, 2000, 8000])
    args = parser.parse_args()
    {"table": run_table, "sweep": run_sweep, "candidates": run_candidates, "plot": run_plot}[args.mode](args)


if __name__ == "__main__":
    main()
