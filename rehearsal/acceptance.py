"""The booth's acceptance check as code: start auto mode, wait, read mean TTFT by router and turn.

Used by the end-to-end test (shortened schedule), the bench (`python -m bench.booth`) and by hand
against `make demo`. Reads what a visitor's tools would: the load generator's `/metrics`
(`loadgen_ttft_seconds` by `router` and `turn`) and its per-turn records (`/api/conversations`).
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from rehearsal.stack import Stack

ROUTERS = ("kv", "round-robin")


@dataclass(frozen=True)
class Verdict:
    """The issue's bounds on mean TTFT KV / round-robin."""

    turn2_max: float = 0.5
    followups_max: float = 0.6
    turn1_tolerance: float = 0.15
    high_load_turn2_max: float = 0.35


def mean_ttft_from_metrics(text: str, workload: str = "chat") -> dict[tuple[str, str], tuple[float, float]]:
    """(router, turn) -> (sum seconds, count) of loadgen_ttft_seconds."""
    out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for family in text_string_to_metric_families(text):
        if family.name != "loadgen_ttft_seconds":
            continue
        for sample in family.samples:
            labels = sample.labels
            if labels.get("workload") != workload:
                continue
            key = (labels["router"], labels["turn"])
            if sample.name.endswith("_sum"):
                out[key][0] += sample.value
            elif sample.name.endswith("_count"):
                out[key][1] += sample.value
    return {k: (v[0], v[1]) for k, v in out.items()}


def ratios(sums: dict[tuple[str, str], tuple[float, float]]) -> dict:
    """Mean TTFT (ms) per router and turn, and KV/RR for turn 1, turn 2 and turns >= 2 pooled."""

    def mean(router: str, turns: set[str]) -> float:
        total = sum(sums.get((router, t), (0.0, 0.0))[0] for t in turns)
        count = sum(sums.get((router, t), (0.0, 0.0))[1] for t in turns)
        return total / count * 1000 if count else math.nan

    later = {"2", "3", "4", "5"}
    by_turn = {r: {t: mean(r, {t}) for t in ("1", "2", "3", "4", "5")} for r in ROUTERS}
    counts = {r: {t: int(sums.get((r, t), (0, 0))[1]) for t in ("1", "2", "3", "4", "5")} for r in ROUTERS}
    return {
        "mean_ms": by_turn,
        "counts": counts,
        "turn1": mean("kv", {"1"}) / mean("round-robin", {"1"}),
        "turn2": mean("kv", {"2"}) / mean("round-robin", {"2"}),
        "followups": mean("kv", later) / mean("round-robin", later),
    }


def ratios_from_records(records: list[dict]) -> dict:
    """The same table from per-turn records (conversation API), e.g. for one phase."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in records:
        if r.get("error") or r.get("ttft_ms") is None or r.get("workload", "chat") != "chat":
            continue
        key = (r["router"], str(min(r["turn"], 5)))
        sums[key][0] += r["ttft_ms"] / 1000
        sums[key][1] += 1
    return ratios({k: (v[0], v[1]) for k, v in sums.items()})


def failures(result: dict, verdict: Verdict = Verdict(), high_load: dict | None = None) -> list[str]:
    """What breaks the issue's bounds (empty when the booth shows the win)."""
    problems = []
    for router in ROUTERS:
        if not sum(result["counts"][router].values()):
            problems.append(f"no traffic on {router}")
    if not result["turn2"] <= verdict.turn2_max:
        problems.append(f"turn 2 KV/RR {result['turn2']:.2f} > {verdict.turn2_max}")
    if not result["followups"] <= verdict.followups_max:
        problems.append(f"turns >= 2 KV/RR {result['followups']:.2f} > {verdict.followups_max}")
    if not abs(result["turn1"] - 1) <= verdict.turn1_tolerance:
        problems.append(f"turn 1 KV/RR {result['turn1']:.2f} outside 1 +/- {verdict.turn1_tolerance}")
    if high_load is not None and not high_load["turn2"] <= verdict.high_load_turn2_max:
        problems.append(f"high-load turn 2 KV/RR {high_load['turn2']:.2f} > {verdict.high_load_turn2_max}")
    return problems


def format_table(title: str, result: dict) -> str:
    lines = [f"### {title}", "", "| turn | KV mean TTFT (ms) | RR mean TTFT (ms) | KV / RR | n KV / RR |", "|---|---|---|---|---|"]
    for t in ("1", "2", "3", "4", "5"):
        kv, rr = result["mean_ms"]["kv"][t], result["mean_ms"]["round-robin"][t]
        if math.isnan(kv) and math.isnan(rr):
            continue
        lines.append(f"| {t} | {kv:.0f} | {rr:.0f} | {kv / rr:.2f} | {result['counts']['kv'][t]} / {result['counts']['round-robin'][t]} |")
    lines.append(f"| turns >= 2 | | | **{result['followups']:.2f}** | |")
    lines.append(f"\nturn 1 {result['turn1']:.2f} · turn 2 **{result['turn2']:.2f}** · turns >= 2 **{result['followups']:.2f}**")
    return "\n".join(lines)


class AutoRun:
    """Drive a running load generator: start auto mode, follow its phases, collect records."""

    def __init__(self, ui_url: str, token: str | None = None, metrics_url: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=ui_url, timeout=15.0, headers=headers)
        self.metrics_url = (metrics_url or ui_url).rstrip("/") + "/metrics"  # the load generator's internal port
        self.phases: list[tuple[str, float]] = []  # (phase, wall time it was first seen)

    def start(self, comparison: str = "sliced") -> dict:
        """Auto mode: `sliced` (the default: one router at a time) or `side-by-side` (shared replicas)."""
        return self.http.post("/api/scenario/auto", params={"comparison": comparison}).raise_for_status().json()

    def follow(self, seconds: float, poll_s: float = 1.0) -> None:
        """Wait `seconds`, noting when each phase begins."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            phase = self.http.get("/api/status").json()["scenario"]["phase"]
            if not self.phases or self.phases[-1][0] != phase:
                self.phases.append((phase, time.time()))
            time.sleep(poll_s)

    def slices(self, count: int, limit_s: float, poll_s: float = 2.0, keep_partial: bool = False) -> list[dict]:
        """Wait until `count` twin slices are compared (time-sliced auto mode); returns them oldest first.

        At `limit_s` with fewer: a TimeoutError, or with `keep_partial` (a benchmark: an hour's run that overran
        its limit is still an hour of measurement) the slices compared so far, and a line saying so."""
        deadline = time.monotonic() + limit_s
        done: list[dict] = []
        while time.monotonic() < deadline:
            status = self.http.get("/api/status").json()
            phase = status["scenario"]["phase"]
            if not self.phases or self.phases[-1][0] != phase:
                self.phases.append((phase, time.time()))
            done = list(reversed(status["scenario"]["slices"]))
            if len(done) >= count:
                return done
            time.sleep(poll_s)
        if not keep_partial:
            raise TimeoutError(f"fewer than {count} twin slices after {limit_s:.0f}s")
        print(f"only {len(done)} of {count} twin slices after {limit_s:.0f} s: keeping those", flush=True)
        return done

    def conversations(self) -> list[dict]:
        return self.http.get("/api/conversations", params={"limit": 5000}).raise_for_status().json()["conversations"]

    def metrics(self) -> str:
        return self.http.get(self.metrics_url).raise_for_status().text

    def records(self) -> list[dict]:
        body = self.http.get("/api/conversations", params={"limit": 5000}).raise_for_status().json()
        return [t | {"conversation": c["id"]} for c in body["conversations"] for t in c["turns"]]

    def by_phase(self, records: list[dict]) -> dict[str, list[dict]]:
        """Records grouped by the phase their conversation started in (turns of one conversation stay together)."""
        starts = {}
        for r in records:
            starts[r["conversation"]] = min(starts.get(r["conversation"], math.inf), r["started_at"])
        out: dict[str, list[dict]] = defaultdict(list)
        for r in records:
            began = starts[r["conversation"]]
            phase = next((p for p, t in reversed(self.phases) if t <= began), self.phases[0][0] if self.phases else "?")
            out[phase].append(r)
        return dict(out)

    def stop(self) -> None:
        self.http.post("/api/scenario/stop")

    def close(self) -> None:
        self.http.close()


def auto_slices(ui_url: str, token: str | None, metrics_url: str | None, count: int, limit_s: float,
                keep_partial: bool = False) -> tuple[list[dict], list[dict]]:
    """Time-sliced auto mode on one running rehearsal until `count` twin slices are compared: (pairs, conversations)."""
    run = AutoRun(ui_url, token=token, metrics_url=metrics_url)
    try:
        started = run.start()["scenario"]
        if (started["comparison"], started["live"]["router"]) != ("sliced", "kv"):
            raise RuntimeError(f"auto mode did not start time-sliced on the KV router: {started}")
        pairs = run.slices(count, limit_s=limit_s, keep_partial=keep_partial)
        conversations = run.conversations()
        run.stop()
    finally:
        run.close()
    return pairs, conversations


def rehearsals_at_once(configs: list, work_dir: Path, count: int, limit_s: float,
                       keep_partial: bool = False) -> list[tuple[list[dict], list[dict]]]:
    """Start one rehearsal per config, one after the other (each binds its ports before the next picks its own),
    then run auto mode on all of them at once until each has `count` twin slices; stops them all, whatever fails.

    The rehearsals wait on real time (a load average of 0.1-0.4 for one), so three at once take a third of the
    time one takes for three cycles, and their pairs are as independent (each auto run draws its own seeds)."""
    with ExitStack() as running:
        for index, config in enumerate(configs):
            running.enter_context(Stack(config, work_dir=Path(work_dir) / f"rehearsal-{index}")).wait_ready(timeout_s=180)
        with ThreadPoolExecutor(len(configs)) as pool:
            return list(pool.map(lambda c: auto_slices(c.ui_url, c.control_token, c.ui_metrics_url, count, limit_s,
                                                       keep_partial), configs))


def median_or_nan(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan
