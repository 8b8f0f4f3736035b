#!/usr/bin/env python3
"""Benchmark of the load generator's own client: how much it adds to TTFT, and how closely it holds a target rate.

Runs the real loadgen engine (sessions, streaming client, metrics, stats) in this process against the
OpenAI-style stub from tests/loadgen/stub_openai.py in a separate process, so the two do not share a core's
event loop. Prints numbers; asserts nothing.

  1. Client-added TTFT: ~200 concurrent streams against a stub whose time to first token is a known delay;
     added = measured TTFT - configured delay (an upper bound: it also contains the stub's and loopback's share).
     A 5-stream run gives the idle baseline for comparison.
  2. Rate fidelity: totalRPS=20 for 60 s, achieved request rate vs target (single-turn, then 3-5 turn chat).

Usage: .venv/bin/python bench/loadgen_client_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import math
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgen.workload import sessions
from loadgen.schemas import WorkloadConfig
from loadgen.service import Service
from loadgen.settings import Settings

STUB = REPO / "tests" / "loadgen" / "stub_openai.py"


def start_stub(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(STUB), *args], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("STUB_READY"):
        proc.kill()
        raise RuntimeError(f"stub did not start: {line!r}")
    return proc, line.split()[1]


# Where the request leg's time goes: httpcore's trace hook stamps (wall clock) when the client finished writing
# each request, keyed by conversation id through a context variable set around the real stream_chat.
_CONV = contextvars.ContextVar("conv", default=None)
SENT_AT: dict[str, float] = {}
_stream_chat = sessions.stream_chat


async def _traced_stream_chat(client, *, messages, **kwargs):
    match = re.search(r"\[session (\w+)\]", messages[1]["content"]) if len(messages) > 1 else None
    _CONV.set(match.group(1) if match else None)
    return await _stream_chat(client, messages=messages, **kwargs)


async def _trace(event: str, info: dict) -> None:
    if event == "http11.send_request_body.complete" and _CONV.get():
        SENT_AT[_CONV.get()] = time.time()


def instrument(client) -> None:
    build = client.build_request

    def build_request(*args, **kwargs):
        kwargs["extensions"] = {**(kwargs.get("extensions") or {}), "trace": _trace}
        return build(*args, **kwargs)

    client.build_request = build_request
    sessions.stream_chat = _traced_stream_chat


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def run_engine(url: str, config: WorkloadConfig, seconds: float, seed: int) -> tuple[Service, list[int], float]:
    """Run the engine for `seconds`, sampling concurrency; returns (service, concurrency samples, start wall time)."""
    svc = Service(Settings(frontend_url=url, model="bench", request_timeout_s=120, max_kept_conversations=1_000_000), seed=seed)
    for shard in svc.clients["kv"].shards:
        instrument(shard)
    started_wall = time.time()
    await svc.engine.start(config)
    samples: list[int] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await asyncio.sleep(0.5)
        samples.append(svc.runner.inflight["kv"])
    return svc, samples, started_wall


async def ttft_overhead(url: str, delay_ms: float, streams: int, seconds: float, stream_s: float, tokens: int) -> dict:
    """Open-loop arrivals sized so about `streams` requests are streaming at once (Little's law)."""
    config = WorkloadConfig(
        totalRPS=streams / stream_s,
        maxConcurrency=min(1000, int(streams * 1.5) + 10),
        turns={"min": 1, "max": 1},
        maxTokens=tokens,
        thinkTimeMs={"min": 0, "max": 0},
    )
    lags: list[float] = []

    async def watch_loop() -> None:  # how late a 10 ms timer fires: the client's own scheduling delay under load
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append((loop.time() - before - 0.01) * 1000.0)

    watcher = asyncio.create_task(watch_loop())
    svc, samples, _ = await run_engine(url, config, seconds, seed=1)
    watcher.cancel()
    lags = lags[len(lags) // 3 :]
    await svc.engine.stop()
    convs = [c for c in svc.store.query() if c.status == "completed"]
    errors = sum(1 for c in svc.store.query() for t in c.turns if t.error)
    error_kinds = dict(svc.runner.errors_by_kind)
    await svc.aclose()
    ttfts = [c.turns[0].ttft_ms for c in convs]
    # The stub stamps (wall clock) when its handler got each request and sent its first token; the rest of the
    # measured TTFT beyond that span is the client's share (plus loopback and uvicorn's own HTTP parsing/writing).
    async with httpx.AsyncClient() as http:
        timings = (await http.get(url + "/stub/timings")).json()["timings"]
        stub_times = {m.group(1): t for t in timings if (m := re.search(r"\[session (\w+)\]", t["first_user"])) and "first_sent" in t}
    client_share, up, down, send, stub_in, client_total = [], [], [], [], [], []
    for conv in convs:
        t = stub_times.get(conv.id)
        if t is not None:
            rec = conv.turns[0]
            if conv.id in SENT_AT:
                send.append((SENT_AT[conv.id] - rec.started_at) * 1000.0)  # client: build + pool + write request
                stub_in.append((t["received"] - SENT_AT[conv.id]) * 1000.0)  # loopback + stub accept/parse/route
                back = (rec.started_at + rec.ttft_ms / 1000.0 - t["first_sent"]) * 1000.0
                client_total.append(send[-1] + back)
            client_share.append(rec.ttft_ms - (t["first_sent"] - t["received"]) * 1000.0)
            up.append((t["received"] - rec.started_at) * 1000.0)  # client send + loopback + uvicorn parse in the stub
            down.append((rec.started_at + rec.ttft_ms / 1000.0 - t["first_sent"]) * 1000.0)  # stub write + loopback + client parse
    steady = samples[len(samples) // 3 :]
    return {
        "error_kinds": error_kinds,
        "send_p50": statistics.median(send),
        "stub_in_p50": statistics.median(stub_in),
        "client_total_p50": statistics.median(client_total),
        "client_total_p90": pct(client_total, 0.9),
        "up_p50": statistics.median(up),
        "down_p50": statistics.median(down),
        "loop_lag_p50": statistics.median(lags) if lags else float("nan"),
        "loop_lag_p90": pct(lags, 0.9) if lags else float("nan"),
        "client_p50": statistics.median(client_share),
        "client_p90": pct(client_share, 0.9),
        "streams_p50": statistics.median(steady),
        "streams_max": max(steady),
        "requests": len(ttfts),
        "errors": errors,
        "ttft_p50": statistics.median(ttfts),
        "ttft_p90": pct(ttfts, 0.9),
        "added_p50": statistics.median(ttfts) - delay_ms,
        "added_p90": pct(ttfts, 0.9) - delay_ms,
    }


async def rate_fidelity(url: str, rps: float, seconds: float, turns: tuple[int, int], seed: int) -> dict:
    config = WorkloadConfig(totalRPS=rps, maxConcurrency=1000, turns={"min": turns[0], "max": turns[1]}, maxTokens=4, thinkTimeMs={"min": 0, "max": 0})
    svc, _, started = await run_engine(url, config, seconds, seed=seed)
    await svc.engine.stop()
    records = [t for c in svc.store.query() for t in c.turns]
    conversations = len(svc.store.query())
    skipped = svc.engine.tally["arrivals_skipped"]
    lag_mean_ms = svc.engine.lag_total_s / max(1, svc.engine.arrivals) * 1000
    lag_max_ms = svc.engine.lag_max_s * 1000
    await svc.aclose()
    in_window = [t for t in records if t.started_at - started <= seconds]
    achieved = len(in_window) / seconds
    expected_sd = (
        math.sqrt(
            rps
            * seconds
            * (
                1
                if turns == (1, 1)
                else statistics.fmean(range(turns[0], turns[1] + 1))
                + statistics.pvariance(range(turns[0], turns[1] + 1)) / statistics.fmean(range(turns[0], turns[1] + 1))
            )
        )
        / seconds
    )
    return {
        "target": rps,
        "achieved": achieved,
        "error_pct": (achieved / rps - 1) * 100,
        "requests": len(in_window),
        "conversations": conversations,
        "skipped": skipped,
        "poisson_sd_pct": expected_sd / rps * 100,
        "lag_mean_ms": lag_mean_ms,
        "lag_max_ms": lag_max_ms,
    }


async def main(quick: bool) -> None:
    delay_ms, itl_ms, tokens = 100.0, 500.0, 6  # long, sparse streams: 200 open at once without saturating the stub
    stream_s = (delay_ms + (tokens - 1) * itl_ms) / 1000.0
    proc, url = start_stub("--ttft-ms", str(delay_ms), "--itl-ms", str(itl_ms), "--max-tokens-cap", str(tokens))
    try:
        print(f"stub: TTFT {delay_ms:.0f} ms, ITL {itl_ms:.0f} ms, {tokens} tokens per stream ({stream_s:.2f} s per stream)")
        print("\n1. Client-added TTFT (measured TTFT - configured 100 ms)")
        for streams in (5, 200):
            r = await ttft_overhead(url, delay_ms, streams, 12 if quick else 30, stream_s, tokens)
            print(
                f"   {streams:>3} target streams: in flight p50 {r['streams_p50']:.0f} (max {r['streams_max']}), {r['requests']} requests, {r['errors']} errors {r['error_kinds'] or ''}\n"
                f"       measured TTFT p50 {r['ttft_p50']:.2f} ms, p90 {r['ttft_p90']:.2f} ms -> added p50 {r['added_p50']:.2f} ms, p90 {r['added_p90']:.2f} ms (upper bound: includes the Python stub)\n"
                f"       outside the stub's handler p50 {r['client_p50']:.2f} ms, p90 {r['client_p90']:.2f} ms "
                f"= request leg p50 {r['up_p50']:.2f} ms + first token to parsed p50 {r['down_p50']:.2f} ms\n"
                f"       client share (build+write request, read first token) p50 {r['client_total_p50']:.2f} ms, p90 {r['client_total_p90']:.2f} ms; "
                f"event-loop lag p90 {r['loop_lag_p90']:.1f} ms"
            )
    finally:
        proc.terminate()
        proc.wait()

    proc, url = start_stub("--ttft-ms", "20", "--itl-ms", "5", "--max-tokens-cap", "4")
    try:
        seconds = 15 if quick else 60
        print(f"\n2. Rate fidelity at totalRPS=20 for {seconds} s (stub TTFT 20 ms, Poisson arrivals)")
        runs = [("single-turn", (1, 1), seed) for seed in (3, 5, 7)] + [("chat 3-5 turns", (3, 5), 4)]
        achieved = {}
        for label, turns, seed in runs:
            r = await rate_fidelity(url, 20.0, seconds, turns, seed)
            achieved.setdefault(label, []).append(r["achieved"])
            label = f"{label} seed {seed}"
            print(
                f"   {label:<22}: achieved {r['achieved']:.2f} req/s vs target {r['target']:.0f} ({r['error_pct']:+.1f}%), "
                f"{r['requests']} requests / {r['conversations']} sessions, {r['skipped']} skipped; Poisson 1-sigma ~{r['poisson_sd_pct']:.1f}%; "
                f"arrivals late vs schedule: mean {r['lag_mean_ms']:.2f} ms, max {r['lag_max_ms']:.1f} ms"
            )
        for label, values in achieved.items():
            mean = statistics.fmean(values)
            print(f"   {label} mean over {len(values)} run(s): {mean:.2f} req/s ({(mean / 20.0 - 1) * 100:+.1f}%)")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test of the script)")
    try:  # the service runs under uvicorn, which uses uvloop when installed; measure the same loop
        import uvloop

        uvloop.run(main(parser.parse_args().quick))
    except ImportError:
        asyncio.run(main(parser.parse_args().quick))
