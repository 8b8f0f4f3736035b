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

That floor ignores queueing. The second table adds it for each auto-mode phase at its offered load, as a
time slice runs it (one router alone on the replicas at the phase's rate): each replica is an M/G/1 queue
of prefill work (Poisson arrivals; service = the prefill each request needs, from the same figures), so
every request also waits the Pollaczek-Khinchine mean W = lambda E[S^2] / (2 (1 - rho)) before its own
prefill. Round-robin's re-prefills raise its rho, and so its wait, on every turn; at rho >= 1 the phase is
saturated (its queue grows for as long as the slice lasts). Decode and iteration granularity are left out.
Layouts other than the booth's 2 x TP=4 are scaled from the TP=4 shard figures (stated per layout below),
not measured.

    python -m bench.predict [--opening 7000] [--answer 256] [--question 40] [--turns 2 4] [--overhead-ms 10]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from loadgen.workload.scenario import PHASES
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


def _request_mix(cal: GpuCalibration, layout: Layout, opening: int, answer: int, question: int,
                 turns: tuple[int, int], router: str) -> list[tuple[int, float, float]]:
    """(turn, probability weight per conversation, prefill ms) for every kind of request a conversation makes."""
    n, step = layout.replicas, answer + question
    kinds = []
    for k in range(1, turns[1] + 1):
        reach = sum(1 for t in range(turns[0], turns[1] + 1) if t >= k) / (turns[1] - turns[0] + 1)  # P(turn k exists)
        prompt = opening + (k - 1) * step
        if k == 1:
            kinds.append((k, reach, prefill_ms(cal, layout, prompt)))
        elif router == "kv":
            kinds.append((k, reach, prefill_ms(cal, layout, step)))
        else:
            never, last = ((n - 1) / n) ** (k - 1), 1 / n
            gap = min(prompt, step * min(k - 1, n))
            kinds += [(k, reach * never, prefill_ms(cal, layout, prompt)), (k, reach * last, prefill_ms(cal, layout, step)),
                      (k, reach * (1 - never - last), prefill_ms(cal, layout, gap))]
    return kinds


def predict_loaded(cal: GpuCalibration, layout: Layout, rps: float, opening: int, answer: int, question: int,
                   turns: tuple[int, int], overhead_ms: float) -> dict:
    """Mean TTFT (ms) per turn for each router alone at `rps`, with each replica's prefill queue (M/G/1)."""
    out = {}
    for router in ("kv", "rr"):
        kinds = _request_mix(cal, layout, opening, answer, question, turns, router)
        per_conv = sum(w for _, w, _ in kinds)  # requests per conversation
        lam = rps / layout.replicas / 1000.0  # requests per ms per replica
        mean_s = sum(w * s for _, w, s in kinds) / per_conv
        second = sum(w * s * s for _, w, s in kinds) / per_conv
        rho = lam * mean_s
        wait = lam * second / (2 * (1 - rho)) if rho < 1 else float("inf")
        by_turn = {}
        for k in range(1, turns[1] + 1):
            parts = [(w, s) for t, w, s in kinds if t == k]
            by_turn[k] = overhead_ms + wait + sum(w * s for w, s in parts) / sum(w for w, _ in parts)
        out[router] = {"rho": rho, "wait": wait, "ttft": by_turn}
    weights = {k: sum(1 for t in range(turns[0], turns[1] + 1) if t >= k) for k in range(2, turns[1] + 1)}
    pooled = lambda d: sum(d[k] * w for k, w in weights.items()) / sum(weights.values())  # noqa: E731
    kv, rr = out["kv"]["ttft"], out["rr"]["ttft"]
    return {**out, "turn1": kv[1] / rr[1], "turn2": kv[2] / rr[2], "followups": pooled(kv) / pooled(rr)}


def stacks_and_layouts():
    """(stack, calibration, layout) for dev (H100) and prod (H200) in every layout."""
    for stack, gpu in (("dev", "h100"), ("prod", "h200")):
        cal = load(gpu)
        for layout in LAYOUTS:
            yield stack, cal, layout


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
    for stack, cal, layout in stacks_and_layouts():
        p = predict(cal, layout, args.opening, args.answer, args.question, tuple(args.turns), args.overhead_ms)
        print(f"| {stack} ({cal.gpu}) | {layout.name} | {p['kv'][1]:.0f} ms | {p['kv'][2]:.0f} / {p['rr'][2]:.0f} | {p['turn2']:.2f} | {p['followups']:.2f} |")
    print("\nAt each auto-mode phase's offered load, one router alone on the replicas (a time slice), with queueing:\n")
    print("| stack | layout | phase (RPS) | prefill busy KV · RR | wait KV · RR (ms) | turn 2 KV / RR (ms) | turn 2 KV/RR | turns >= 2 KV/RR | light-load turn 2 KV/RR |")
    print("|---|---|---|---|---|---|---|---|---|")
    for stack, cal, layout in stacks_and_layouts():
        floor = predict(cal, layout, args.opening, args.answer, args.question, tuple(args.turns), args.overhead_ms)
        for phase in PHASES:
            p = predict_loaded(cal, layout, phase.rps, args.opening, args.answer, args.question, tuple(args.turns), args.overhead_ms)
            head = f"| {stack} | {layout.name} | {phase.name} ({phase.rps:g}) | {p['kv']['rho']:.0%} · {p['rr']['rho']:.0%} |"
            if p["rr"]["rho"] >= 1:
                print(f"{head} {p['kv']['wait']:.0f} · saturated | – | round-robin saturated | – | {floor['turn2']:.2f} |")
                continue
            print(f"{head} {p['kv']['wait']:.0f} · {p['rr']['wait']:.0f} | {p['kv']['ttft'][2]:.0f} / {p['rr']['ttft'][2]:.0f} | "
                  f"{p['turn2']:.2f} | {p['followups']:.2f} | {floor['turn2']:.2f} |")
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
