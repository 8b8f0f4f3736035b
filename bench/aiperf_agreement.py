"""Held-out check of the booth's figure: NVIDIA's AIPerf multi-turn client against the rehearsal (issue 31, item 4).

The page's pooled turn-2 KV/RR ratio comes from our own load generator. This benchmark measures the same thing with
a client we did not write: AIPerf (`aiperf profile`, PyPI, pinned in bench/aiperf-requirements.txt, installed in a
virtualenv of its own because its dependencies are not ours) replays the booth's conversation shape as a Mooncake
trace (a ~7k-token opening, 2-4 turns, ~40-token follow-ups, 256-token answers, 1-3 s think time; AIPerf threads its
live answers into each follow-up) on a fixed schedule at the offered load of one auto-mode phase (`--phase`,
Poisson conversation starts) against the KV frontend, then the round-robin one, on the same replicas, in
alternating order over `--repeats` rounds, each run with its own seed so no run finds another's prompts cached.
The seeds start at `--seed-base` (default: drawn per invocation and printed), so two invocations replay different
conversations and their rounds can be pooled as independent units; pass the printed base to repeat a run.
It prints turn-1 and turn-2 mean TTFT per router, KV / RR with a 90% bootstrap interval (whole conversations
resampled), and, given a `bench.booth_slices` output (`--pooled`), whether AIPerf's ratio lies inside the page's
pooled interval for the phase of the same load.

    python -m venv /tmp/aiperf && /tmp/aiperf/bin/pip install -r bench/aiperf-requirements.txt
    python -m bench.aiperf_agreement --aiperf /tmp/aiperf/bin/aiperf --pooled out/bench/booth_slices.json

A benchmark: prints numbers, writes out/bench/aiperf_agreement.json, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from loadgen.workload.scenario import PHASES
from rehearsal import calibration
from rehearsal.ports import pick_free
from rehearsal.settings import MODEL_NAME, TOKENIZER_DIR, MockerTiming
from rehearsal.slice_stats import hit_share, interval
from rehearsal.stack import Stack, StackConfig

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "bench"
ROUTERS = ("kv", "round-robin")
# The booth's conversation shape (loadgen.schemas defaults and the booth preset).
OPENING_TOKENS = 7000 + 120  # the opening file plus the system prompt and instruction around it
FOLLOWUP_TOKENS = 40
ANSWER_TOKENS = 256
TURNS = (2, 4)
THINK_MS = (1000, 3000)


def write_trace(path: Path, conversations: int, rps: float, seed: int) -> Path:
    """A Mooncake multi-turn trace replayed on a fixed schedule: each conversation starts at its `timestamp`
    (Poisson arrivals at `rps` / the mean turn count, as the load generator starts them), its later turns
    follow the previous answer after `delay` (think time). Each session is sent exactly once."""
    rng = random.Random(seed)
    rows, start_ms = [], 0.0
    conversation_rate = rps / (sum(TURNS) / 2)
    for index in range(conversations):
        session = f"s{seed}-{index}"
        rows.append({"session_id": session, "timestamp": int(start_ms), "input_length": OPENING_TOKENS,
                     "output_length": ANSWER_TOKENS})
        for _ in range(rng.randint(*TURNS) - 1):
            rows.append({"session_id": session, "delay": rng.randint(*THINK_MS), "input_length": FOLLOWUP_TOKENS,
                         "output_length": ANSWER_TOKENS})
        start_ms += rng.expovariate(conversation_rate) * 1000
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def round_seed(base: int, round_: int, router: str) -> int:
    """One seed per (round, router): session ids and prompts follow it, so distinct seeds share no cache."""
    return base + 10 * round_ + ROUTERS.index(router)


def aiperf_command(aiperf: str, url: str, trace: Path, artifacts: Path, seed: int) -> list[str]:
    return [aiperf, "profile", "--model", MODEL_NAME, "--tokenizer", str(TOKENIZER_DIR), "--url", url,
            "--endpoint-type", "chat", "--streaming", "--input-file", str(trace), "--custom-dataset-type",
            "mooncake_trace", "--fixed-schedule", "--fixed-schedule-auto-offset", "--random-seed", str(seed),
            "--extra-inputs", "ignore_eos:true", "--artifact-dir", str(artifacts), "--export-level", "records",
            "--no-gpu-telemetry", "--no-server-metrics", "--ui-type", "none"]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ROUTED = re.compile(r'route request completed.*? x_request_id="([0-9a-f-]+)".*? worker_id=(\d+)')


def routed_workers(frontend_log: Path) -> dict[str, str]:
    """x_request_id -> the Dynamo worker id that served it, from the frontend's own log line per request
    (`route request completed ... worker_id=...`): AIPerf does not know which replica answered; the router does."""
    if not frontend_log.exists():
        return {}
    found = (_ROUTED.search(_ANSI.sub("", line)) for line in frontend_log.read_text(errors="replace").splitlines())
    return {m.group(1): m.group(2) for m in found if m}


def read_records(artifacts: Path, workers: dict[str, str] | None = None) -> list[dict]:
    """AIPerf's per-request records as conversations in rehearsal.slice_stats' shape (turn numbers from 1), with
    each request's send time, duration and (given the frontend's `routed_workers`) serving replica.

    A session is one x_correlation_id; should AIPerf replay a conversation (wrapping past the dataset's end), only
    its first replay counts: a second one would find its own prompts cached on both routers."""
    [export] = sorted(artifacts.rglob("profile_export.jsonl"))
    sessions: dict[str, list[dict]] = defaultdict(list)
    first: dict[str, str] = {}
    for line in export.read_text().splitlines():
        record = json.loads(line)
        meta, metrics = record["metadata"], record.get("metrics") or {}
        if first.setdefault(meta["conversation_id"], meta["x_correlation_id"]) != meta["x_correlation_id"]:
            continue
        ttft = (metrics.get("time_to_first_token") or {}).get("value")
        error = record.get("error")
        sessions[meta["conversation_id"]].append(
            {"turn": meta["turn_index"] + 1, "ttft_ms": ttft, "error": error if error or ttft is not None else "no TTFT",
             "prompt_tokens": (metrics.get("usage_prompt_tokens") or {}).get("value"),
             "cached_tokens": (metrics.get("usage_prompt_cache_read_tokens") or {}).get("value"),
             "started_at": meta["request_start_ns"] / 1e9,
             "e2e_ms": (meta["request_end_ns"] - meta["request_start_ns"]) / 1e6,
             "worker": (workers or {}).get(meta["x_request_id"])})
    return [{"id": cid, "workload": "chat", "turns": sorted(turns, key=lambda t: t["turn"])} for cid, turns in sessions.items()]


def pooled_figure(path: Path, phase: str) -> dict | None:
    if not path or not path.exists():
        return None
    row = json.loads(path.read_text())["result"].get(phase)
    return None if not row or "ratio" not in row["2"] else row["2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aiperf", default="aiperf", help="the aiperf executable (its own virtualenv)")
    parser.add_argument("--conversations", type=int, default=24, help="per router and round")
    parser.add_argument("--repeats", type=int, default=2, help="rounds; the router order alternates")
    parser.add_argument("--layout", default=calibration.BOOTH_LAYOUT, choices=sorted(calibration.LAYOUTS))
    parser.add_argument("--calibration", default="h100", choices=sorted(calibration.GPUS))
    parser.add_argument("--pooled", type=Path, help="a bench.booth_slices output to compare with")
    parser.add_argument("--phase", default="STEADY_AB", choices=[p.name for p in PHASES],
                        help="the auto-mode phase whose offered load (requests/s) the schedule replays")
    parser.add_argument("--seed-base", type=int, default=None,
                        help="first seed (round k, router i: base + 10 k + i); default: drawn per run, printed")
    parser.add_argument("--out", default=str(OUT / "aiperf_agreement.json"))
    args = parser.parse_args()

    [rps] = [p.rps for p in PHASES if p.name == args.phase]
    seed_base = args.seed_base if args.seed_base is not None else random.SystemRandom().randrange(1, 10**6) * 1000
    timing = MockerTiming(calibration=args.calibration, layout=args.layout)
    kv_port, rr_port = pick_free(2)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=None, timing=timing, workers=timing.replicas)
    urls = {"kv": config.kv_url, "round-robin": config.rr_url}
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"aiperf-agreement-{kv_port}"
    runs: dict[str, list[dict]] = {router: [] for router in ROUTERS}
    load_before, started = os.getloadavg(), time.monotonic()
    with Stack(config, work_dir=work) as stack:
        stack.wait_ready(timeout_s=180)
        for round_ in range(args.repeats):
            order = ROUTERS if round_ % 2 == 0 else ROUTERS[::-1]
            for router in order:
                seed = round_seed(seed_base, round_, router)
                trace = write_trace(work / f"trace-{seed}.jsonl", args.conversations, rps, seed)
                artifacts = work / f"aiperf-{router}-{round_}"
                subprocess.run(aiperf_command(args.aiperf, urls[router], trace, artifacts, seed),
                               check=True, stdout=subprocess.DEVNULL, timeout=1800)
                runs[router] += read_records(artifacts, routed_workers(work / "logs" / f"frontend-{router}.log"))
    elapsed = time.monotonic() - started
    summary = {}
    for group in ("1", "2", "2+"):
        ratio, low, high = interval(runs["kv"], runs["round-robin"], group)
        summary[group] = {"ratio": ratio, "low": low, "high": high,
                          "hits": [hit_share(runs[router], group) for router in ROUTERS]}
    reference = pooled_figure(args.pooled, args.phase) if args.pooled else None
    title = (f"AIPerf multi-turn, {calibration.LAYOUTS[args.layout].label} on {args.calibration}, {args.repeats} round(s) x "
             f"{args.conversations} conversations per router at {args.phase}'s {rps:g} requests/s; {elapsed:.0f} s; "
             f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; --seed-base {seed_base}")
    print(f"\n## {title}\n")
    print("| turns | KV / round-robin [90%] | served from cache KV · RR | conversations KV · RR |")
    print("|---|---|---|---|")
    for group, row in summary.items():
        hits = " · ".join("–" if h is None else f"{h:.0%}" for h in row["hits"])
        print(f"| {group} | {row['ratio']:.2f} [{row['low']:.2f}-{row['high']:.2f}] | {hits} | "
              f"{len(runs['kv'])} · {len(runs['round-robin'])} |")
    if reference:
        inside = reference["low"] <= summary["2"]["ratio"] <= reference["high"]
        print(f"\nThe page's pooled {args.phase} turn 2 ({args.pooled}): {reference['ratio']:.2f} "
              f"[{reference['low']:.2f}-{reference['high']:.2f}]; AIPerf's {summary['2']['ratio']:.2f} is "
              f"{'inside' if inside else 'OUTSIDE'} that interval.")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"title": title, "seed_base": seed_base, "summary": summary, "reference": reference, "runs": runs}, indent=1))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
