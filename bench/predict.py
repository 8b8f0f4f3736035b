"""Predicted booth numbers for the cloud stacks, from the measured GPU figures (rehearsal/calibration/).

Why a model and not a measurement: there is no GPU here. The prediction is the light-load floor of
mean TTFT KV / round-robin by turn, for the booth's conversation shape, on a given calibration
(dev = H100, prod = H200) and replica layout:

  * a KV-routed follow-up is a hit: only its new tokens (the last answer and the question) are
    prefilled, at the cost measured for a hit on a 4k-token cached context;
  * round-robin sends turn k to a replica that has never seen the conversation with probability
    ((N-1)/N)^(k-1) (a full re-prefill of the whole history, compute + all-reduce), otherwise to one
    that holds most of it (a partial re-prefill of the turns since its last visit);
  * every request pays a fixed `overhead_ms` (frontend, tokenizer, network, scheduling) on top.

Queueing is ignored, so loaded numbers (the rehearsal's bench) sit above these floors. Layouts other
than the booth's 2 x TP=4 are scaled from the TP=4 shard figures (stated per layout below), not measured.

    python -m bench.predict [--opening 7000] [--answer 256] [--question 40] [--turns 2 4] [--overhead-ms 10]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from rehearsal.calibration import GpuCalibration, load


@dataclass(frozen=True)
class Layout:
    name: str
    replicas: int
    compute_scale: float  # prefill compute per replica relative to one TP=4 shard of the 70B
    allreduce_scale: float  # all-reduce time relative to the TP=4 ring estimate
    note: str


LAYOUTS = (
    Layout("2 x 70B TP=4 (booth)", 2, 1.0, 1.0, "measured shard figures as they are"),
    Layout("4 x 70B TP=2", 4, 2.0, 2 / 3, "each GPU does twice the TP=4 shard's work; a 2-GPU ring moves 1x instead of 1.5x"),
    Layout("8 x 8B TP=1", 8, 8.0 / 17.5, 0.0, "8B parameters per GPU vs 17.5B in a TP=4 70B shard; no all-reduce"),
)


def prefill_ms(cal: GpuCalibration, layout: Layout, new_tokens: float) -> float:
    compute = cal.prefill_ms(new_tokens) - _allreduce(cal, new_tokens)
    return compute * layout.compute_scale + _allreduce(cal, new_tokens) * layout.allreduce_scale


def _allreduce(cal: GpuCalibration, tokens: float) -> float:
    keys = sorted(cal.allreduce)
    if tokens < keys[0]:
        return cal.allreduce[keys[0]] * tokens / keys[0]
    from rehearsal.calibration import _interp

    return _interp(cal.allreduce, tokens)


def predict(cal: GpuCalibration, layout: Layout, opening: int, answer: int, question: int, turns: tuple[int, int], overhead_ms: float) -> dict:
    """Mean TTFT (ms) per turn for KV and round-robin, and the KV/RR ratios the booth reports."""
    n = layout.replicas
    step = answer + question
    kv, rr = {}, {}
    for k in range(1, turns[1] + 1):
        prompt = opening + (k - 1) * step
        if k == 1:
            kv[k] = rr[k] = overhead_ms + prefill_ms(cal, layout, prompt)
            continue
        hit = overhead_ms + prefill_ms(cal, layout, step)
        never = ((n - 1) / n) ** (k - 1)  # this replica never served the conversation: full miss
        last = 1 / n  # it served turn k-1: a hit
        partial = 1 - never - last  # it served an earlier turn: re-prefill the turns since
        gap_tokens = min(prompt, step * min(k - 1, n))
        rr[k] = never * (overhead_ms + prefill_ms(cal, layout, prompt)) + last * hit + partial * (overhead_ms + prefill_ms(cal, layout, gap_tokens))
        kv[k] = hit
    weights = {k: sum(1 for t in range(turns[0], turns[1] + 1) if t >= k) for k in range(2, turns[1] + 1)}
    pooled = lambda d: sum(d[k] * w for k, w in weights.items()) / sum(weights.values())
    return {"kv": kv, "rr": rr, "turn1": kv[1] / rr[1], "turn2": kv[2] / rr[2], "followups": pooled(kv) / pooled(rr)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opening", type=int, default=7000)
    parser.add_argument("--answer", type=int, default=256)
    parser.add_argument("--question", type=int, default=40)
    parser.add_argument("--turns", type=int, nargs=2, default=(2, 4))
    parser.add_argument("--overhead-ms", type=float, default=10.0)
    args = parser.parse_args()
    print(f"Opening {args.opening} tokens, answers {args.answer}, questions {args.question}, {args.turns[0]}-{args.turns[1]} turns, "
          f"{args.overhead_ms:g} ms fixed overhead per request, no queueing.\n")
    print("| stack (GPU) | layout | turn-1 TTFT | turn-2 KV / RR (ms) | turn 2 KV/RR | turns >= 2 KV/RR |")
    print("|---|---|---|---|---|---|")
    for stack, gpu in (("dev", "h100"), ("prod", "h200")):
        cal = load(gpu)
        for layout in LAYOUTS:
            p = predict(cal, layout, args.opening, args.answer, args.question, tuple(args.turns), args.overhead_ms)
            print(f"| {stack} ({cal.gpu}) | {layout.name} | {p['kv'][1]:.0f} ms | {p['kv'][2]:.0f} / {p['rr'][2]:.0f} | {p['turn2']:.2f} | {p['followups']:.2f} |")
    print("\nFigures used (per TP=4 shard, compute + all-reduce estimate):")
    for gpu in ("h100", "h200"):
        cal = load(gpu)
        rows = ", ".join(f"{n}: {ms:.0f}" for n, ms in cal.prefill_table())
        print(f"  {cal.gpu}: prefill ms by new tokens {rows}")
    print("Layouts:")
    for layout in LAYOUTS:
        print(f"  {layout.name}: {layout.note}")


if __name__ == "__main__":
    main()
