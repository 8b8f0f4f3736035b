"""`python -m loadgen check`: the booth works, end to end, or it says what does not and where to look.

Per frontend: one streamed completion, then a multi-turn conversation. On the KV frontend turn 2
must be served from cache: the server reports cached prompt tokens (`usage.prompt_tokens_details`)
for at least `--min-cached-fraction` of turn 1's prompt, or, when the server reports none, the KV
router's own counter of cached prefix tokens it picked (`dynamo_component_router_kv_selected_
cached_prefix_tokens_total` on the frontend's /metrics) grows by that much during turn 2. With
`--public-url`, the UI and its API must answer through the public HTTPS URL (retried for
`--public-wait` seconds: DNS and the certificate can lag the Gateway). Everything is checked even
after a failure, so one run names every problem.

The verdict and the numbers go to stdout, as JSON to `--report` (a file) and `--report-configmap`
(the verification Job's ConfigMap, read back into the stack outputs), and the short verdict to
`--summary-file` (the verification Job uses /dev/termination-log: `pulumi up` prints a failed Job's
termination message, so the failure and where to look end up in its error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from dataclasses import asdict, dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from loadgen.workload.corpus import default_corpus
from loadgen.workload.followups import template_question
from loadgen.kube_report import write_configmap_report
from loadgen.workload.sessions import SYSTEM_PROMPT, chat_opening
from loadgen.upstream.client import TurnResult, make_client, stream_chat

EXIT_OK, EXIT_NO_DROP, EXIT_FAILED = 0, 1, 2
ROUTER_CACHED_TOKENS = "dynamo_component_router_kv_selected_cached_prefix_tokens_total"
SUMMARY_LIMIT = 4000  # Kubernetes keeps at most 4096 bytes of a termination message


@dataclass
class Failure:
    """One thing that did not work, and where an operator looks first."""

    check: str
    detail: str
    look_at: str
    exit_code: int = EXIT_FAILED


@dataclass
class RouterResult:
    url: str
    model: str | None = None
    completion_ttft_ms: float | None = None
    ttft_ms: list[float | None] = field(default_factory=list)
    prompt_tokens: list[int | None] = field(default_factory=list)
    cached_tokens: list[int | None] = field(default_factory=list)
    router_cached_tokens_turn2: float | None = None
    ttft_drop: float | None = None

    @property
    def turn2_cached_fraction(self) -> float | None:
        """Turn 2's cached prompt tokens over turn 1's prompt: server-reported, else the router's counter."""
        if len(self.prompt_tokens) < 2 or not self.prompt_tokens[0]:
            return None
        cached = self.cached_tokens[1]
        if cached is None:
            cached = self.router_cached_tokens_turn2
        return None if cached is None else cached / self.prompt_tokens[0]


@dataclass
class Report:
    routers: dict[str, RouterResult] = field(default_factory=dict)
    public: dict | None = None
    failures: list[Failure] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return max((f.exit_code for f in self.failures), default=EXIT_OK)

    def to_json(self) -> dict:
        kv = self.routers.get("kv")
        return {
            "verdict": "pass" if not self.failures else "fail",
            "checkedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "kvTurn2CachedFraction": None if kv is None else kv.turn2_cached_fraction,
            "routers": {name: asdict(r) | {"turn2CachedFraction": r.turn2_cached_fraction}
                        for name, r in self.routers.items()},
            "public": self.public,
            "failures": [asdict(f) for f in self.failures],
        }

    def summary(self) -> str:
        """A few lines a person reads first: the verdict, each failure and where to look."""
        if not self.failures:
            kv = self.routers.get("kv")
            cached = "n/a" if kv is None or kv.turn2_cached_fraction is None else f"{kv.turn2_cached_fraction:.0%}"
            public = "" if self.public is None else f"; {self.public['url']} answers ({self.public['tls']})"
            return f"PASS: both frontends stream; KV turn 2 served from cache ({cached} of turn 1's prompt){public}"
        lines = [f"FAIL: {len(self.failures)} check(s) failed"]
        lines += [f"- {f.check}: {f.detail}\n  look at: {f.look_at}" for f in self.failures]
        return "\n".join(lines)


async def _discover_model(client: httpx.AsyncClient) -> str:
    response = await client.get("/v1/models")
    response.raise_for_status()
    return response.json()["data"][0]["id"]


async def _router_cached_tokens(client: httpx.AsyncClient) -> float | None:
    """The KV router's running total of cached prefix tokens it routed to, or None if not exported."""
    try:
        response = await client.get("/metrics")
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    total = None
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == ROUTER_CACHED_TOKENS:
                total = (total or 0.0) + sample.value
    return total


async def _conversation(client: httpx.AsyncClient, model: str, args: argparse.Namespace, rng: random.Random,
                        result: RouterResult) -> None:
    """Fill result's per-turn numbers; raises RuntimeError on the first failed turn."""
    opening = default_corpus().opening(rng, args.opening_tokens)
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": chat_opening(uuid.uuid4().hex[:12], opening)},
    ]
    for turn in range(1, args.turns + 1):
        if turn > 1:
            messages.append({"role": "user", "content": template_question(opening.kind, opening.anchors, rng)})
        before = await _router_cached_tokens(client) if turn == 2 else None
        turn_result: TurnResult = await stream_chat(client, model=model, messages=messages, max_tokens=args.max_tokens,
                                                    timeout_s=args.timeout)
        if not turn_result.ok:
            raise RuntimeError(f"turn {turn}: {turn_result.error_kind}: {turn_result.error}")
        if turn == 2 and before is not None:
            after = await _router_cached_tokens(client)
            result.router_cached_tokens_turn2 = None if after is None else after - before
        ttft = None if turn_result.ttft_s is None else turn_result.ttft_s * 1000
        result.ttft_ms.append(ttft)
        result.prompt_tokens.append(turn_result.prompt_tokens)
        result.cached_tokens.append(turn_result.cached_tokens)
        cached = "n/a" if turn_result.cached_tokens is None else turn_result.cached_tokens
        print(f"    turn {turn}: TTFT {ttft or 0:8.1f} ms  prompt {turn_result.prompt_tokens} tok  cached {cached}", flush=True)
        messages.append({"role": "assistant", "content": turn_result.text})


def _drop(ttfts: list[float | None]) -> float | None:
    """Fractional TTFT drop of the median of turns 2+ against turn 1."""
    if len(ttfts) < 2 or ttfts[0] is None or not ttfts[0]:
        return None
    later = [t for t in ttfts[1:] if t is not None]
    return 1.0 - statistics.median(later) / ttfts[0] if later else None


FRONTEND_HINT = ("the frontend pod and the workers it lists: GET {url}/health (instances), the DGD status "
                 "(kubectl -n dynamo-workload get dynamographdeployment gtc-demo) and the worker logs")
CACHE_HINT = ("KV events from the workers to the router: the KV frontend's router flags, the workers' "
              "--publish-kv-events, and dynamo_component_kv_cache_events_applied on {url}/metrics")
PUBLIC_HINT = ("the DNS record (external-dns logs), the certificate (kubectl -n dynamo-workload get certificate), "
               "the Gateway's status (kubectl -n dynamo-workload get gateway gtc-demo) and the loadgen pod")


async def _check_router(router: str, url: str, args: argparse.Namespace, rng: random.Random, report: Report) -> None:
    result = report.routers[router] = RouterResult(url=url)
    async with make_client(url, max_connections=4, read_timeout=args.timeout) as client:
        try:
            result.model = args.model or await _discover_model(client)
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            print(f"[{router}] {url}: cannot list models ({type(exc).__name__}: {exc}); pass --model")
            report.failures.append(Failure(f"{router} frontend lists the model", f"{type(exc).__name__}: {exc}",
                                           FRONTEND_HINT.format(url=url)))
            return
        print(f"[{router}] {url} model={result.model}")
        single = await stream_chat(client, model=result.model,
                                   messages=[{"role": "user", "content": "In one sentence, what is a KV cache?"}],
                                   max_tokens=args.max_tokens, timeout_s=args.timeout)
        if not single.ok:
            print(f"  chat completion FAILED: {single.error_kind}: {single.error}")
            report.failures.append(Failure(f"{router} frontend streams a completion", f"{single.error_kind}: {single.error}",
                                           FRONTEND_HINT.format(url=url)))
            return
        result.completion_ttft_ms = single.ttft_s * 1000
        print(f"  chat completion ok: TTFT {result.completion_ttft_ms:.1f} ms, {single.completion_tokens} tokens: "
              f"{single.text[:80]!r}")
        print(f"  {args.turns}-turn conversation (opening ~{args.opening_tokens} tokens):")
        try:
            await _conversation(client, result.model, args, rng, result)
        except RuntimeError as exc:
            print(f"  conversation FAILED: {exc}")
            report.failures.append(Failure(f"{router} frontend serves a {args.turns}-turn conversation", str(exc),
                                           FRONTEND_HINT.format(url=url)))
            return
        result.ttft_drop = _drop(result.ttft_ms)


async def _check_public(args: argparse.Namespace, report: Report) -> None:
    """The UI page, its health and its API through the public URL, retried while DNS and TLS settle."""
    base = args.public_url.rstrip("/")
    tls = "http" if base.startswith("http://") else ("TLS, not verified" if args.public_insecure else "TLS verified")
    report.public = {"url": base, "tls": tls, "ok": False, "attempts": 0, "error": None}
    deadline = time.monotonic() + args.public_wait
    async with httpx.AsyncClient(base_url=base, verify=not args.public_insecure, timeout=10.0,
                                 follow_redirects=False) as client:
        while True:
            report.public["attempts"] += 1
            try:
                for path in ("/healthz", "/api/status", "/"):
                    response = await client.get(path)
                    if response.status_code != 200:
                        raise httpx.HTTPStatusError(f"GET {path}: HTTP {response.status_code}", request=response.request,
                                                    response=response)
                    if path == "/api/status":
                        report.public["model"] = response.json().get("model")
                report.public.update(ok=True, error=None)
                print(f"[public] {base}: UI, /healthz and /api/status answer ({tls})")
                return
            except (httpx.HTTPError, ValueError) as exc:
                report.public["error"] = f"{type(exc).__name__}: {exc}"
            if time.monotonic() + args.public_retry > deadline:
                break
            await asyncio.sleep(args.public_retry)
    print(f"[public] {base}: FAILED after {report.public['attempts']} attempts: {report.public['error']}")
    report.failures.append(Failure("UI and API answer through the public URL", report.public["error"], PUBLIC_HINT))


def _judge_kv(args: argparse.Namespace, report: Report) -> None:
    kv = report.routers.get("kv")
    if kv is None or len(kv.ttft_ms) < 2:
        return  # its failure is already recorded
    fraction = kv.turn2_cached_fraction
    if fraction is None or fraction < args.min_cached_fraction:
        seen = "no cached tokens reported and no router counter" if fraction is None else f"{fraction:.0%} of turn 1's prompt"
        report.failures.append(Failure(
            "KV frontend serves turn 2 from cache", f"{seen}; needs >= {args.min_cached_fraction:.0%}",
            CACHE_HINT.format(url=kv.url), EXIT_NO_DROP))
    if kv.ttft_drop is None or kv.ttft_drop < args.min_drop:
        print(f"FAIL: KV router shows no TTFT drop on turn 2+ (needs >= {args.min_drop * 100:.0f}%)")
        drop = "n/a" if kv.ttft_drop is None else f"{kv.ttft_drop:.0%}"
        report.failures.append(Failure(
            "KV frontend's TTFT drops on turns 2+", f"median of turns 2+ vs turn 1: {drop} drop; needs >= {args.min_drop:.0%}",
            CACHE_HINT.format(url=kv.url), EXIT_NO_DROP))


def _print_table(report: Report, turns: int) -> None:
    done = {name: r for name, r in report.routers.items() if len(r.ttft_ms) == turns}
    if not done:
        return
    print("\nTTFT per turn (ms)")
    print("turn  " + "  ".join(f"{r:>12}" for r in done))
    for i in range(turns):
        print(f"{i + 1:>4}  " + "  ".join(f"{(r.ttft_ms[i] or 0):12.1f}" for r in done.values()))
    for router, result in done.items():
        drop = result.ttft_drop
        cached = result.turn2_cached_fraction
        print(f"{router}: turns 2+ median vs turn 1: " + ("n/a" if drop is None else f"{drop * 100:.0f}% drop")
              + "; turn 2 cached: " + ("n/a" if cached is None else f"{cached:.0%} of turn 1's prompt"))


async def _run(args: argparse.Namespace) -> Report:
    urls = {"kv": args.frontend_url}
    if args.baseline_url:
        urls["round-robin"] = args.baseline_url
    rng = random.Random()
    report = Report()
    for router, url in urls.items():
        await _check_router(router, url, args, rng, report)
    if args.public_url:
        await _check_public(args, report)
    _print_table(report, args.turns)
    _judge_kv(args, report)
    return report


def _write_reports(args: argparse.Namespace, report: Report) -> None:
    document = report.to_json()
    if args.report:
        with open(args.report, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1)
    if args.summary_file:
        with open(args.summary_file, "w", encoding="utf-8") as out:
            out.write(report.summary()[:SUMMARY_LIMIT])
    if args.report_configmap:
        namespace, _, name = args.report_configmap.partition("/")
        write_configmap_report(namespace, name, {"report.json": json.dumps(document, indent=1), "summary": report.summary()})


def run_check(args: argparse.Namespace) -> int:
    """Exit code: 0 pass, 1 the KV effect is missing (no cache hit or no TTFT drop), 2 a request failed."""
    report = asyncio.run(_run(args))
    print(report.summary())
    _write_reports(args, report)
    return report.exit_code
