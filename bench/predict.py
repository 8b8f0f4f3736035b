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
Every layout uses its own measured shard (rehearsal/calibration.py: 4 x TP=2 and 8 x 8B TP=1 measured on
H100; on H200 scaled by the measured TP=4 H200/H100 ratios, said per layout below).

    python -m bench.predict [--opening 7000] [--answer 256] [--question 40] [--turns 2 4] [--overhead-ms 10]
"""

from __future__ import annotations

import argparse

from loadgen.workload.scenario import PHASES
from rehearsal.calibration import LAYOUTS, GpuCalibration, load


def predict(cal: GpuCalibration, opening: int, answer: int, question: int, turns: tuple[int, int], overhead_ms: float) -> dict:
    """Mean TTFT (ms) per turn for KV and round-robin, and the KV/RR ratios the booth reports."""
    n = cal.layout.replicas
    step = answer + question
    kv, rr = {}, {}
    for k in range(1, turns[1] + 1):
        prompt = opening + (k - 1) * step
        if k == 1:
            kv[k] = rr[k] = overhead_ms + cal.prefill_ms(prompt)
            continue
        hit = overhead_ms + cal.prefill_ms(step)
        never = ((n - 1) / n) ** (k - 1)  # this replica never served the conversation: full miss
        last = 1 / n  # it served turn k-1: a hit
        partial = 1 - never - last  # it served an earlier turn: re-prefill the turns since
        gap_tokens = min(prompt, step * min(k - 1, n))
        rr[k] = never * (overhead_ms + cal.prefill_ms(prompt)) + last * hit + partial * (overhead_ms + cal.prefill_ms(gap_tokens))
        kv[k] = hit
    weights = {k: sum(1 for t in range(turns[0], turns[1] + 1) if t >= k) for k in range(2, turns[1] + 1)}
    pooled = lambda d: sum(d[k] * w for k, w in weights.items()) / sum(weights.values())
    return {"kv": kv, "rr": rr, "turn1": kv[1] / rr[1], "turn2": kv[2] / rr[2], "followups": pooled(kv) / pooled(rr)}


def _request_mix(cal: GpuCalibration, opening: int, answer: int, question: int,
                 turns: tuple[int, int], router: str) -> list[tuple[int, float, float]]:
    """(turn, probability weight per conversation, prefill ms) for every kind of request a conversation makes."""
    n, step = cal.layout.replicas, answer + question
    kinds = []
    for k in range(1, turns[1] + 1):
        reach = sum(1 for t in range(turns[0], turns[1] + 1) if t >= k) / (turns[1] - turns[0] + 1)  # P(turn k exists)
        prompt = opening + (k - 1) * step
        if k == 1:
            kinds.append((k, reach, cal.prefill_ms(prompt)))
        elif router == "kv":
            kinds.append((k, reach, cal.prefill_ms(step)))
        else:
            never, last = ((n - 1) / n) ** (k - 1), 1 / n
            gap = min(prompt, step * min(k - 1, n))
            kinds += [(k, reach * never, cal.prefill_ms(prompt)), (k, reach * last, cal.prefill_ms(step)),
                      (k, reach * (1 - never - last), cal.prefill_ms(gap))]
    return kinds


def predict_loaded(cal: GpuCalibration, rps: float, opening: int, answer: int, question: int,
                   turns: tuple[int, int], overhead_ms: float) -> dict:
    """Mean TTFT (ms) per turn for each router alone at `rps`, with each replica's prefill queue (M/G/1)."""
    out = {}
    for router in ("kv", "rr"):
        kinds = _request_mix(cal, opening, answer, question, turns, router)
        per_conv = sum(w for _, w, _ in kinds)  # requests per conversation
        lam = rps / cal.layout.replicas / 1000.0  # requests per ms per replica
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
    """(stack, calibration) for dev (H100) and prod (H200) in every layout."""
    for stack, gpu in (("dev", "h100"), ("prod", "h200")):
        for layout in LAYOUTS:
            yield stack, load(gpu, layout)


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
    for stack, cal in stacks_and_layouts():
        p = predict(cal, args.opening, args.answer, args.question, tuple(args.turns), args.overhead_ms)
        print(f"| {stack} ({cal.gpu}) | {cal.layout.label} | {p['kv'][1]:.0f} ms | {p['kv'][2]:.0f} / {p['rr'][2]:.0f} | {p['turn2']:.2f} | {p['followups']:.2f} |")
    print("\nAt each auto-mode phase's offered load, one router alone on the replicas (a time slice), with queueing:\n")
    print("| stack | layout | phase (RPS) | prefill busy KV · RR | wait KV · RR (ms) | turn 2 KV / RR (ms) | turn 2 KV/RR | turns >= 2 KV/RR | light-load turn 2 KV/RR |")
    print("|---|---|---|---|---|---|---|---|---|")
    for stack, cal in stacks_and_layouts():
        floor = predict(cal, args.opening, args.answer, args.question, tuple(args.turns), args.overhead_ms)
        for phase in PHASES:
            p = predict_loaded(cal, phase.rps, args.opening, args.answer, args.question, tuple(args.turns), args.overhead_ms)
            head = f"| {stack} | {cal.layout.label} | {phase.name} ({phase.rps:g}) | {p['kv']['rho']:.0%} · {p['rr']['rho']:.0%} |"
            if p["rr"]["rho"] >= 1:
                print(f"{head} {p['kv']['wait']:.0f} · saturated | – | round-robin saturated | – | {floor['turn2']:.2f} |")
                continue
            print(f"{head} {p['kv']['wait']:.0f} · {p['rr']['wait']:.0f} | {p['kv']['ttft'][2]:.0f} / {p['rr']['ttft'][2]:.0f} | "
                  f"{p['turn2']:.2f} | {p['followups']:.2f} | {floor['turn2']:.2f} |")
    print("\nFigures used (per replica, compute + all-reduce estimate; rehearsal/calibration.py):")
    for _, cal in stacks_and_layouts():
        rows = ", ".join(f"{n}: {ms:.0f}" for n, ms in cal.prefill_table())
        print(f"  {cal.layout.label} on {cal.gpu} ({cal.note}): prefill ms by new tokens {rows}")

if __name__ == "__main__":
    main()
