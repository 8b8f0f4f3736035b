"""Measure the rehearsal's single-request TTFT (uncached and cached) and ITL by prompt length.

Why: the mocker runs the measured GPU table (rehearsal/calibration.py); this shows what the
rehearsal actually delivers next to the table's figures (docs/rehearsal.md, "Calibration"). Run it after
changing rehearsal.settings.MockerTiming or upgrading Dynamo.

    python -m bench.calibrate_mocker [--lengths 1000 2000 4000 8000] [--calibration h100|h200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import httpx

from bench.conversation_driver import OpeningWriter, TurnRecord, _stream_turn
from rehearsal.ports import pick_free
from rehearsal.calibration import load
from rehearsal.settings import DYNAMO_DEFAULTS, MockerTiming
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
    parser.add_argument("--calibration", choices=("h100", "h200"), default="h100")
    args = parser.parse_args()
    kv, rr = pick_free(2)
    timing = MockerTiming(calibration=args.calibration)
    with Stack(StackConfig(kv_port=kv, rr_port=rr, ui_port=None, router=DYNAMO_DEFAULTS, timing=timing)) as stack:
        stack.wait_ready(120)
        rows = asyncio.run(measure(stack.config.kv_url, args.lengths, args.repeats))
    cal = load(args.calibration)
    print(f"{cal.gpu} table; decode step batch 1 at 4k context: {cal.decode_ms(1, 4096):.1f} ms")
    print("| prompt tokens | table: uncached prefill (ms) | TTFT uncached (ms) | TTFT same prompt again (ms) | ITL (ms) |")
    print("|---|---|---|---|---|")
    for length, cold, warm, itl in rows:
        print(f"| {length} | {cal.prefill_ms(length):.0f} | {cold:.0f} | {warm:.0f} | {itl:.1f} |")


if __name__ == "__main__":
    main()
