"""Auto mode for an hour on the rehearsal: does the booth stay up, flat in memory and free of errors?

Starts the rehearsal as `bench.booth_slices` does (2 mocker workers timed from the measured table, the booth's
router settings, the load generator at its defaults), starts auto mode (time slices), and until `--minutes`
have passed samples every `--sample-s` seconds the resident memory (RSS) of every process the rehearsal runs
(each one's whole process tree) and the twin slices completed so far. At the end it prints:

- RSS per process: first sample after warm-up, last, peak, and the slope over the run after warm-up (MB/h);
- errors: failed requests from the load generator's counters, failed and cancelled turns per slice, restarts;
- mean TTFT per phase per cycle: turn 2 and turns >= 2 for each router, and KV / round-robin.

    python -m bench.soak                    # an hour, H100 timing (dev)
    python -m bench.soak --minutes 10       # a short look

A benchmark: prints numbers and writes out/bench/soak.json; asserts nothing. Needs a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families

from rehearsal.acceptance import AutoRun
from rehearsal.ports import pick_free
from rehearsal.settings import BOOTH, MockerTiming
from rehearsal.stack import Stack, StackConfig

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "bench"
WARM_UP_S = 600.0  # memory grows while caches, pools and the conversation store first fill; the slope starts after
MB = 1024 * 1024


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (the mocker and the frontend start helpers)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def failed_requests(metrics_text: str) -> dict[str, float]:
    """loadgen_errors_total by kind, and requests with status=error, from the load generator's /metrics."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "loadgen_errors_total":
                key = f"errors[{sample.labels.get('kind')}]"
                out[key] = out.get(key, 0.0) + sample.value
            elif sample.name == "loadgen_requests_total":
                key = f"requests[{sample.labels.get('status')}]"
                out[key] = out.get(key, 0.0) + sample.value
    return out


def slope_mb_per_h(points: list[tuple[float, int]]) -> float | None:
    """Least-squares RSS slope (MB per hour) over (seconds since start, bytes) points after warm-up."""
    late = [(t, rss) for t, rss in points if t >= WARM_UP_S]
    if len(late) < 3:
        return None
    fit = statistics.linear_regression([t for t, _ in late], [rss for _, rss in late])
    return fit.slope * 3600 / MB


def memory_rows(samples: list[dict]) -> list[dict]:
    names = sorted({name for s in samples for name in s["rss"]})
    rows = []
    for name in names:
        points = [(s["t"], s["rss"][name]) for s in samples if name in s["rss"]]
        settled = [rss for t, rss in points if t >= WARM_UP_S] or [rss for _, rss in points]
        rows.append({"process": name, "after_warm_up_mb": settled[0] / MB, "last_mb": points[-1][1] / MB,
                     "peak_mb": max(rss for _, rss in points) / MB, "slope_mb_per_h": slope_mb_per_h(points)})
    return rows


def print_report(report: dict) -> None:
    print(f"\n## {report['title']}\n")
    print("| process | RSS after warm-up (MB) | last (MB) | peak (MB) | slope after warm-up (MB/h) |")
    print("|---|---|---|---|---|")
    for row in report["memory"]:
        slope = "–" if row["slope_mb_per_h"] is None else f"{row['slope_mb_per_h']:+.1f}"
        print(f"| {row['process']} | {row['after_warm_up_mb']:.0f} | {row['last_mb']:.0f} | {row['peak_mb']:.0f} | {slope} |")
    errors = report["errors"]
    print(f"\nrequests: {errors['requests']}; error counters: {errors['counters'] or 'none'}; failed turns in slices: "
          f"{errors['slice_errors']}; drains cut short: {errors['slice_cancelled']}; restarts: {errors['restarts']}")
    print("\n| cycle | phase | turn 2 KV · RR (ms) | turn 2 KV/RR | turns ≥ 2 KV/RR | turn 1 KV/RR | conversations |")
    print("|---|---|---|---|---|---|---|")
    for pair in report["pairs"]:
        kv, rr, ratio = pair["kv"], pair["roundRobin"], pair.get("ratio") or {}

        def r(key):
            return "–" if ratio.get(key) is None else f"{ratio[key]:.2f}"
        print(f"| {pair['cycle']} | {pair['phase']} | {kv['ttftMeanMs'].get('2') or 0:.0f} · {rr['ttftMeanMs'].get('2') or 0:.0f} | "
              f"{r('2')} | {r('2+')} | {r('1')} | {kv['conversations']} · {rr['conversations']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--calibration", default="h100", choices=["h100", "h200"])
    parser.add_argument("--out", default=str(OUT / "soak.json"))
    args = parser.parse_args()
    kv_port, rr_port, ui_port = pick_free(3)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=ui_port, router=BOOTH,
                         timing=replace(MockerTiming(), calibration=args.calibration))
    load_before = os.getloadavg()
    samples: list[dict] = []
    pairs: dict[tuple[int, str], dict] = {}
    with Stack(config, work_dir=Path(os.environ.get("TMPDIR", "/tmp")) / f"soak-{ui_port}") as stack:
        stack.wait_ready(timeout_s=180)
        stack.supervisor.arm_restarts()
        run = AutoRun(config.ui_url, token=config.control_token, metrics_url=config.ui_metrics_url)
        try:
            run.start()
            started = time.monotonic()
            deadline = started + args.minutes * 60
            while time.monotonic() < deadline:
                stack.supervisor.check_alive()
                samples.append({"t": time.monotonic() - started, "load": os.getloadavg()[0],
                                "rss": {c.name: tree_rss(c.popen.pid) for c in stack.supervisor.children}})
                for pair in run.http.get("/api/status").json()["scenario"]["slices"]:
                    pairs[(pair["cycle"], pair["phase"])] = pair  # the page keeps the last 32 slices; we keep all
                time.sleep(min(args.sample_s, max(0.0, deadline - time.monotonic())))
            counters = failed_requests(run.metrics())
            run.stop()
        finally:
            run.close()
        restarts = [r.line(stack.supervisor.max_restarts) for r in stack.supervisor.restarts]
    ordered = [pairs[k] for k in sorted(pairs)]
    slices = [p[side] for p in ordered for side in ("kv", "roundRobin")]
    report = {
        "title": (f"auto mode soak, time slices, {args.minutes:.0f} min, {args.calibration} timing, 2 replicas; "
                  f"load average {load_before[0]:.2f} before, mean {statistics.fmean(s['load'] for s in samples):.2f} "
                  f"during; {len(ordered)} twin slices"),
        "memory": memory_rows(samples),
        "errors": {"requests": {k: v for k, v in counters.items() if k.startswith("requests")},
                   "counters": {k: v for k, v in counters.items() if k.startswith("errors") and v},
                   "slice_errors": sum(s["errors"] for s in slices), "slice_cancelled": sum(s["cancelled"] for s in slices),
                   "restarts": restarts},
        "pairs": ordered,
        "samples": samples,
    }
    print_report(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
