"""Auto mode side by side (both routers at once on shared replicas) on the local rehearsal, per phase.
The booth's default, time slices, is measured by `python -m bench.booth_slices`.

Starts the rehearsal (2 mocker workers timed from the measured H100 table, the booth's router
settings, the load generator), starts auto mode through the API, waits, then prints mean TTFT
KV / round-robin by turn from `/metrics` and per phase from the per-turn records.

    python -m bench.booth                     # first 4 minutes of auto mode (warm-up, steady, high load)
    python -m bench.booth --seconds 285       # one whole cycle (adds the cool-down)
    python -m bench.booth --calibration h200  # prod's timing
    python -m bench.booth --ui-url http://127.0.0.1:3000   # measure an already running `make demo`
    python -m bench.booth --pools per-router  # diagnostic: each frontend on its own replicas (the cloud shares them)

Prints numbers, a bootstrap interval per ratio and what slow KV cache hits waited behind; asserts nothing. Writes the records to out/bench/booth.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import replace
from pathlib import Path

from bench import booth_analysis
from rehearsal.acceptance import AutoRun, failures, format_table, mean_ttft_from_metrics, ratios, ratios_from_records
from rehearsal.ports import pick_free
from rehearsal.settings import BOOTH, MockerTiming
from rehearsal.stack import Stack, StackConfig

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "bench"
PNG = REPO / "docs" / "img" / "booth_auto_mode.png"
PHASE_ORDER = ("WARM_UP", "STEADY_AB", "HIGH_LOAD", "COOL_DOWN")


def plot(result: dict, title: str, path: Path = PNG) -> None:
    """Mean TTFT by turn, KV vs round-robin: the first minutes overall, then each phase (the README's chart)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("first minutes (/metrics)", result["overall"])] + [(p, result["phases"][p]) for p in PHASE_ORDER if p in result["phases"]]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), dpi=120, sharey=True, squeeze=False)
    axes = axes[0]
    for ax, (name, r) in zip(axes, panels):
        turns = [t for t in ("1", "2", "3", "4", "5") if not math.isnan(r["mean_ms"]["kv"][t])]
        xs = range(len(turns))
        ax.bar([x - 0.2 for x in xs], [r["mean_ms"]["kv"][t] for t in turns], 0.4, color="#76b900", label="KV-aware")
        ax.bar([x + 0.2 for x in xs], [r["mean_ms"]["round-robin"][t] for t in turns], 0.4, color="#f2a33a", label="round-robin")
        ax.set_xticks(list(xs), [f"turn {t}" for t in turns], fontsize=7)
        ax.set_title(f"{name}\nturn 2 {r['turn2']:.2f} · turns 2+ {r['followups']:.2f}", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("mean TTFT (ms)")
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def measure(ui_url: str, seconds: float, workload: dict | None = None, token: str | None = None, metrics_url: str | None = None) -> dict:
    run = AutoRun(ui_url, token=token or os.environ.get("LOADGEN_CONTROL_TOKEN"), metrics_url=metrics_url)
    try:
        if workload:  # fields auto mode keeps (opening, turns, answer length); phases set rate and concurrency
            run.http.post("/api/workload/config", json=workload).raise_for_status()
        run.start("side-by-side")  # this bench measures the shared-replicas mode (bench.booth_slices: the default)
        run.follow(seconds)
        metrics = run.metrics()
        records = run.records()
        run.stop()
        phases = {p: ratios_from_records(r) for p, r in run.by_phase(records).items()}
        return {"overall": ratios(mean_ttft_from_metrics(metrics)), "phases": phases, "records": records, "phase_starts": run.phases}
    finally:
        run.close()


def report(result: dict, title: str) -> None:
    print(format_table(f"{title}: /metrics loadgen_ttft_seconds, mean by router and turn", result["overall"]))
    for phase in PHASE_ORDER:
        if phase in result["phases"]:
            print()
            print(format_table(f"{phase} (conversations that started in it)", result["phases"][phase]))
    print()
    print(booth_analysis.report(result["records"]))
    problems = failures(result["overall"], high_load=result["phases"].get("HIGH_LOAD"))
    print("\nissue-11 bounds: " + ("all met" if not problems else "; ".join(problems)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calibration", choices=("h100", "h200"), default="h100")
    parser.add_argument("--ui-url", help="measure this running load generator instead of starting a rehearsal")
    parser.add_argument("--metrics-url", help="its internal port (make demo prints it); with --ui-url; token from LOADGEN_CONTROL_TOKEN")
    parser.add_argument("--opening", type=int, help="openingTokens (default: the booth's)")
    parser.add_argument("--turns", type=int, nargs=2, metavar=("MIN", "MAX"), help="turns per conversation")
    parser.add_argument("--max-tokens", type=int, help="answer length cap")
    parser.add_argument("--speedup", type=float, default=1.0, help="auto-mode phases this many times shorter (the e2e test's shape)")
    parser.add_argument("--prefill-load-scale", type=float, help="KV router policy: prefill_load_scale (default: the booth's)")
    parser.add_argument("--overlap-score-credit", type=float, help="KV router policy: overlap_score_credit (default: the booth's)")
    parser.add_argument("--pools", choices=("shared", "per-router"), default="shared",
                        help="per-router: a diagnostic, each frontend on its own replicas (the cloud shares them)")
    parser.add_argument("--plot", action="store_true", help=f"redraw {PNG.relative_to(REPO)}")
    args = parser.parse_args()
    workload = {k: v for k, v in {"openingTokens": args.opening, "maxTokens": args.max_tokens,
                                  "turns": {"min": args.turns[0], "max": args.turns[1]} if args.turns else None}.items() if v is not None}
    load = os.getloadavg()
    print(f"machine load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    if args.ui_url:
        result = measure(args.ui_url, args.seconds, workload, metrics_url=args.metrics_url)
        title = f"{args.ui_url}, {args.seconds:.0f} s of auto mode"
    else:
        kv, rr, ui = pick_free(3)
        router = replace(BOOTH, **{k: v for k, v in {"prefill_load_scale": args.prefill_load_scale,
                                                      "overlap_score_credit": args.overlap_score_credit}.items() if v is not None})
        config = StackConfig(kv_port=kv, rr_port=rr, ui_port=ui, workers=args.workers, router=router, pools=args.pools, timing=MockerTiming(calibration=args.calibration),
                             loadgen_args=("--scenario-speedup", f"{args.speedup:g}"))
        with Stack(config) as stack:
            stack.wait_ready(180)
            result = measure(config.ui_url, args.seconds, workload, config.control_token, config.ui_metrics_url)
        title = f"rehearsal, {args.workers} workers, {args.calibration} timing, KV router {router.label()}, {args.pools} replicas, first {args.seconds:.0f} s of auto mode" + (f" (phases / {args.speedup:g})" if args.speedup != 1 else "")
    if workload:
        title += f", {workload}"
    load = os.getloadavg()
    print(f"machine load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    report(result, title)
    if args.plot:
        plot(result, title)
        print(f"wrote {PNG.relative_to(REPO)}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "booth.json").write_text(json.dumps({k: v for k, v in result.items()}, indent=1, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x))


if __name__ == "__main__":
    main()
