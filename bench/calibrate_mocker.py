"""The physics check: one replica's uncontended cache miss and hit on the rehearsal against the calibration table.

Why: the mocker runs the measured GPU table (rehearsal/calibration.py); this shows what the rehearsal actually
delivers next to the table's figures (docs/rehearsal.md, "Calibration"), per prompt length:
- a miss: a fresh prompt of n tokens (table: prefill of n tokens);
- a hit: the same prompt plus ~128 new tokens, the shape of a booth follow-up (table: prefill of the new
  tokens with the history cached);
- the fixed cost the table leaves out (the frontend's tokenizing and routing, HTTP, streaming), from a tiny
  prompt, so each figure can also be read net of it.
Single requests, one at a time, on a quiet machine. Run it after changing MockerTiming or upgrading Dynamo.

    python -m bench.calibrate_mocker [--lengths 1000 2000 4000 8000] [--calibration h100|h200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics

import httpx

from bench.conversation_driver import OpeningWriter, TurnRecord, _stream_turn
from rehearsal.ports import pick_free
from rehearsal.calibration import load
from rehearsal.settings import DYNAMO_DEFAULTS, MockerTiming
from rehearsal.stack import Stack, StackConfig


NEW_TOKENS = 128  # a booth follow-up's new tokens (question + template)


async def measure(url: str, lengths: list[int], repeats: int) -> tuple[float, list[tuple[int, float, float, float]]]:
    """(fixed-cost TTFT of a tiny prompt, rows of (tokens, miss ms, hit ms, ITL ms)), medians over `repeats`."""
    writer = OpeningWriter(seed=7)
    rows = []
    async with httpx.AsyncClient(timeout=60) as client:
        tiny = []
        for rep in range(repeats + 2):
            record = TurnRecord("c", 1, "kv")
            await _stream_turn(client, url, [{"role": "user", "content": writer.write(32, f"tiny-{rep}")}], 8, record)
            tiny.append(record.ttft_ms)
        for length in lengths:
            cold, warm, itl = [], [], []
            for rep in range(repeats):
                text = writer.write(length, f"cal{length}-{rep}")
                first, second = TurnRecord("c", 1, "kv"), TurnRecord("c", 2, "kv")
                await _stream_turn(client, url, [{"role": "user", "content": text}], 64, first)  # nothing cached
                follow_up = text + "\n\n" + writer.write(NEW_TOKENS, f"q{length}-{rep}")
                await _stream_turn(client, url, [{"role": "user", "content": follow_up}], 64, second)  # history cached
                cold.append(first.ttft_ms)
                warm.append(second.ttft_ms)
                itl.append(first.itl_ms)
            rows.append((length, statistics.median(cold), statistics.median(warm), statistics.median(itl)))
    return statistics.median(tiny[2:]), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="*", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calibration", choices=("h100", "h200"), default="h100")
    args = parser.parse_args()
    kv, rr = pick_free(2)
    timing = MockerTiming(calibration=args.calibration)
    load_before = os.getloadavg()[0]
    with Stack(StackConfig(kv_port=kv, rr_port=rr, ui_port=None, router=DYNAMO_DEFAULTS, timing=timing)) as stack:
        stack.wait_ready(120)
        tiny, rows = asyncio.run(measure(stack.config.kv_url, args.lengths, args.repeats))
    cal = load(args.calibration)
    floor = tiny - cal.prefill_ms(32)
    print(f"{cal.gpu} table; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; {args.repeats} repeats")
    print(f"fixed cost outside the table (frontend, HTTP, streaming): {floor:.1f} ms "
          f"(a 32-token prompt: {tiny:.1f} ms measured, {cal.prefill_ms(32):.1f} ms in the table)")
    print(f"| prompt tokens | miss: table (ms) | miss: rehearsal (ms) | deviation | net of fixed cost | "
          f"hit (+{NEW_TOKENS} new): table | hit: rehearsal | deviation | net of fixed cost | ITL (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    hit_table = cal.hit_ms(NEW_TOKENS)
    for length, cold, warm, itl in rows:
        miss_table = cal.prefill_ms(length)
        print(f"| {length} | {miss_table:.0f} | {cold:.0f} | {cold / miss_table - 1:+.0%} | {(cold - floor) / miss_table - 1:+.0%} | "
              f"{hit_table:.0f} | {warm:.0f} | {warm / hit_table - 1:+.0%} | {(warm - floor) / hit_table - 1:+.0%} | {itl:.1f} |")


if __name__ == "__main__":
    main()
