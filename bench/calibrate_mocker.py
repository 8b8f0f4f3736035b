"""Measure the rehearsal's single-request TTFT (uncached and cached) and ITL by prompt length.

Why: the mocker's --speedup-ratio/--decode-speedup-ratio are set so these numbers
sit near Llama 3.1 70B FP8 at TP=4 on H100 (README, "Calibration"); run this
after changing rehearsal.settings.MockerTiming or upgrading Dynamo.

    python -m bench.calibrate_mocker [--lengths 1000 2000 4000 8000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import httpx

from bench.conversation_driver import OpeningWriter, TurnRecord, _stream_turn
from rehearsal.ports import pick_free
from rehearsal.settings import DYNAMO_DEFAULTS
from rehearsal.stack import Stack, StackConfig


async def measure(url: str, lengths: list[int], repeats: int) -> list[tuple[int, float, float, float]]:
    writer = OpeningWriter(seed=7)
    rows = []
    async with httpx.AsyncClient(timeout=60) as client:
        for length in lengths:
            cold, warm, itl = [], [], []
            for rep in range(repeats):
                messages = [{"role": "user", "content": writer.write(length, f"cal{length}-{rep}")}]
                first, second = TurnRecord("c", 1, "kv"), TurnRecord("c", 1, "kv")
                await _stream_turn(client, url, messages, 64, first)  # nothing cached
                await _stream_turn(client, url, messages, 64, second)  # same prompt again: cached
                cold.append(first.ttft_ms)
                warm.append(second.ttft_ms)
                itl.append(first.itl_ms)
            rows.append((length, statistics.median(cold), statistics.median(warm), statistics.median(itl)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="*", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    kv, rr = pick_free(2)
    with Stack(StackConfig(kv_port=kv, rr_port=rr, ui_port=None, router=DYNAMO_DEFAULTS)) as stack:
        stack.wait_ready(120)
        rows = asyncio.run(measure(stack.config.kv_url, args.lengths, args.repeats))
    print("| prompt tokens | TTFT uncached (ms) | TTFT same prompt again (ms) | ITL (ms) |")
    print("|---|---|---|---|")
    for length, cold, warm, itl in rows:
        print(f"| {length} | {cold:.0f} | {warm:.0f} | {itl:.1f} |")


if __name__ == "__main__":
    main()
