"""The booth's default story measured: auto mode's time slices on the local rehearsal, per phase.

Starts the rehearsal (one mocker worker per replica of `--layout`, timed from its measured table, the booth's router settings, the load
generator at its defaults), starts auto mode (time slices: one router at a time on both replicas, twin slices
from the same seed), waits for `--cycles` whole cycles, then prints per phase the mean TTFT of turn 1, turn 2
and turns >= 2 for each router, KV / round-robin with a 90% bootstrap interval (conversations resampled within
each slice), and how each router's turn-2 TTFT moves from the steady phase to high load.

    python -m bench.booth_slices                      # one cycle, H100 timing (dev)
    python -m bench.booth_slices --cycles 2 --calibration h200
    python -m bench.booth_slices --cycles 3 --layout 70b-tp2 --out out/bench/slices-70b-tp2.json
    python -m bench.booth_slices --rehearsals 3 --cycles 2   # three rehearsals at once, pooled (six pairs a phase)

Prints numbers and writes out/bench/booth_slices.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from loadgen.workload.scenario import KEPT_SLICES, PHASES
from rehearsal import calibration
from rehearsal.acceptance import rehearsals_at_once
from rehearsal.settings import BOOTH, MockerTiming
from rehearsal.slice_stats import analyse, pool
from rehearsal.stack import configs_on_free_ports

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "bench"


def print_report(result: dict, title: str) -> None:
    print(f"\n## {title}\n")
    print("| phase | turn 1 KV · RR (ms) | turn 1 KV/RR | turn 2 KV · RR (ms) | turn 2 KV/RR [90%] | turns ≥ 2 KV/RR [90%] "
          "| turn 2 served from cache KV · RR | conversations KV · RR |")
    print("|---|---|---|---|---|---|---|---|")
    for phase in (p.name for p in PHASES):
        row = result.get(phase)
        if not row:
            continue
        g1, g2, gf = row["1"], row["2"], row["2+"]

        def ms(g):
            return f"{g['kv_ms']:.0f} · {g['rr_ms']:.0f}" if g["kv_ms"] is not None and g["rr_ms"] is not None else "–"

        def ratio(g, ci=True):
            if "ratio" not in g:
                return "–"
            return f"{g['ratio']:.2f} [{g['low']:.2f}–{g['high']:.2f}]" if ci else f"{g['ratio']:.2f}"
        def hits(g):
            kv, rr = g.get("hits") or (None, None)
            return "–" if kv is None or rr is None else f"{kv:.0%} · {rr:.0%}"
        print(f"| {phase} | {ms(g1)} | {ratio(g1, False)} | {ms(g2)} | {ratio(g2)} | {ratio(gf)} | {hits(g2)} | "
              f"{row['conversations']['kv']} · {row['conversations']['round-robin']} |")
    steady, high = result.get("STEADY_AB"), result.get("HIGH_LOAD")
    if steady and high:
        for router, key in (("KV", "kv_ms"), ("round-robin", "rr_ms")):
            if steady["2"][key] and high["2"][key]:
                print(f"turn-2 mean {router}: steady {steady['2'][key]:.0f} ms -> high load {high['2'][key]:.0f} ms "
                      f"(x{high['2'][key] / steady['2'][key]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=1, help="whole cycles per rehearsal")
    parser.add_argument("--rehearsals", type=int, default=1,
                        help="rehearsals run at once, their twin pairs pooled (as the booth acceptance does)")
    parser.add_argument("--calibration", default="h100", choices=sorted(calibration.GPUS))
    parser.add_argument("--layout", default=calibration.BOOTH_LAYOUT, choices=sorted(calibration.LAYOUTS),
                        help="the replica layout the mockers are timed for (one worker per replica)")
    parser.add_argument("--limit", type=float, default=None,
                        help="seconds to wait for the cycles at most (default: 600 a cycle and 300 more); at the limit "
                             "the twin pairs compared so far are kept and reported")
    parser.add_argument("--out", default=str(OUT / "booth_slices.json"))
    parser.add_argument("--prefill-load-scale", type=float, default=None,
                        help="the KV router's prefill_load_scale instead of the stacks' (a diagnostic)")
    args = parser.parse_args()
    most = KEPT_SLICES // (2 * len(PHASES))
    if args.cycles > most:  # more would never arrive: the oldest twin pairs are dropped as new ones complete
        parser.error(f"--cycles {args.cycles}: auto mode keeps its last {KEPT_SLICES // 2} twin pairs, {most} cycles; "
                     f"run several and pool them with `python -m bench.slices_pool`")
    router = BOOTH if args.prefill_load_scale is None else replace(BOOTH, prefill_load_scale=args.prefill_load_scale)
    timing = MockerTiming(calibration=args.calibration, layout=args.layout)
    configs = configs_on_free_ports(args.rehearsals, router=router, timing=timing, workers=timing.replicas)
    load_before = os.getloadavg()
    started = time.monotonic()
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"booth-slices-{configs[0].ui_port}"
    limit = args.limit if args.limit is not None else 600.0 * args.cycles + 300.0  # one cycle takes ~410 s
    pairs, conversations = pool(rehearsals_at_once(configs, work, args.cycles * len(PHASES), limit, keep_partial=True))
    elapsed = time.monotonic() - started
    result = analyse(pairs, conversations)
    title = (f"auto mode, time slices, {args.rehearsals} rehearsal(s) x {args.cycles} cycle(s), {args.calibration} timing, "
             f"{calibration.LAYOUTS[args.layout].label}; {elapsed:.0f} s; "
             f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    print_report(result, title)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    turns = [{"slice": c["slice"], "conversation": c["id"], "turn": t["turn"], "ttft_ms": t["ttft_ms"], "error": t["error"],
              "worker": t.get("worker"), "cached_tokens": t.get("cached_tokens"), "prompt_tokens": t.get("prompt_tokens"),
              "started_at": t.get("started_at"), "e2e_ms": t.get("e2e_ms")}
             for c in conversations if c.get("slice") for t in c["turns"]]
    out.write_text(json.dumps({"title": title, "result": result, "pairs": pairs, "turns": turns}, indent=1, default=str))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
