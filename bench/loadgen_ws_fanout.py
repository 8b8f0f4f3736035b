"""What the live feed costs the load generator: CPU of the loadgen process with 0, 1 and N WebSocket clients
while its live window holds the sample cap (20,000 samples), one snapshot per second.

The loadgen runs as its own process (so its CPU is measured from /proc alone, not mixed with the clients);
the clients run here on asyncio. Prints % of one core per case. Before issue 16 every client rebuilt the
snapshot each second: 200 clients cost 73% of a core at 3,000 samples.

Usage: .venv/bin/python bench/loadgen_ws_fanout.py [--clients 200] [--samples 20000] [--seconds 20]
Numbers depend on machine load: run it on a quiet machine (and say the load average when you quote them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TICKS = os.sysconf("SC_CLK_TCK")


def serve(port: int, samples: int) -> None:
    """Child process: the real server with its live window pre-filled to `samples` recent turn results."""
    from loadgen.server import make_server, sockets_for
    from loadgen.settings import Settings
    from loadgen.stats.window import Sample

    settings = Settings(frontend_url="http://127.0.0.1:9", model="bench", port=port, stats_window_s=3600.0,
                        max_ws_clients=1000, log_level="warning")
    server = make_server(settings)

    def fill() -> None:
        while not server.started:
            time.sleep(0.05)
        stats = server.config.app.state.service.stats
        rng, now = random.Random(1), time.monotonic()
        stats._samples.extend(
            Sample(t=now - rng.uniform(0, 50), workload="chat", router=rng.choice(("kv", "round-robin")), turn=str(rng.randint(1, 5)),
                   ok=rng.random() > 0.01, ttft_ms=rng.uniform(20, 900), itl_ms=rng.uniform(5, 40), cached=rng.randint(0, 4000), prompt=4000)
            for _ in range(samples))
        print("FILLED", flush=True)

    threading.Thread(target=fill, daemon=True).start()
    server.run(sockets=sockets_for(settings))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def measure(url: str, pid: int, clients: int, seconds: float) -> tuple[float, int]:
    """(% of one core used by the loadgen process, messages received per client) with `clients` connected."""
    received = [0] * clients
    dropped = [0]
    stop = asyncio.Event()

    async def client(i: int) -> None:
        async with websockets.connect(url, open_timeout=30, max_size=2**24) as ws:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(ws.recv(), 2.0)
                    received[i] += 1
                except TimeoutError:
                    continue
                except websockets.ConnectionClosed:
                    dropped[0] += 1
                    return

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    await asyncio.sleep(3.0)  # connections settle, first messages delivered
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    before = sum(received)
    await asyncio.sleep(seconds)
    used, elapsed = cpu_seconds(pid) - start_cpu, time.monotonic() - start
    per_client = (sum(received) - before) / max(clients, 1)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    if dropped[0]:
        print(f"  ({dropped[0]} clients were dropped by the server)")
    return 100.0 * used / elapsed, round(per_client)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.samples)
        return 0

    from rehearsal.ports import pick_free

    [port] = pick_free(1)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--samples", str(args.samples)],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "FILLED", "server did not start"
        status = httpx.get(f"http://127.0.0.1:{port}/api/live", timeout=30).json()
        kept = sum(r["requests"] for r in status["routers"].values())
        print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); live window holds {kept} samples")
        url = f"ws://127.0.0.1:{port}/ws"
        for clients in (0, 1, args.clients):
            percent, per_client = asyncio.run(measure(url, child.pid, clients, args.seconds))
            print(f"{clients:4d} clients: loadgen CPU {percent:5.1f}% of one core"
                  + (f", {per_client} snapshots per client in {args.seconds:.0f}s" if clients else ""), flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        child.terminate()
        child.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
