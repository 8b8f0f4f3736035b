"""`python -m loadgen check`: the operator's smoke test (one completion, then a multi-turn conversation per router)."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import uuid

import httpx

from .corpus import default_corpus
from .followups import TEMPLATES
from .sessions import CHAT_OPENING, SYSTEM_PROMPT
from .upstream import make_client, stream_chat

EXIT_OK, EXIT_NO_DROP, EXIT_FAILED = 0, 1, 2


async def _discover_model(client: httpx.AsyncClient) -> str:
    response = await client.get("/v1/models")
    response.raise_for_status()
    return response.json()["data"][0]["id"]


async def _conversation(client: httpx.AsyncClient, model: str, args: argparse.Namespace, rng: random.Random) -> list[float | None]:
    """TTFT in ms per turn; raises RuntimeError on the first failed turn."""
    text, _, topic = default_corpus().opening(rng, args.opening_tokens)
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": CHAT_OPENING.format(sid=uuid.uuid4().hex[:12], text=text)},
    ]
    ttfts: list[float | None] = []
    for turn in range(1, args.turns + 1):
        if turn > 1:
            messages.append({"role": "user", "content": TEMPLATES[(turn - 2) % len(TEMPLATES)].format(topic=topic)})
        result = await stream_chat(client, model=model, messages=messages, max_tokens=args.max_tokens, timeout_s=args.timeout)
        if not result.ok:
            raise RuntimeError(f"turn {turn}: {result.error_kind}: {result.error}")
        ttfts.append(None if result.ttft_s is None else result.ttft_s * 1000)
        cached = "n/a" if result.cached_tokens is None else result.cached_tokens
        print(f"    turn {turn}: TTFT {ttfts[-1]:8.1f} ms  prompt {result.prompt_tokens} tok  cached {cached}", flush=True)
        messages.append({"role": "assistant", "content": result.text})
    return ttfts


def _drop(ttfts: list[float | None]) -> float | None:
    """Fractional TTFT drop of the median of turns 2+ against turn 1."""
    if len(ttfts) < 2 or ttfts[0] is None or not ttfts[0]:
        return None
    later = [t for t in ttfts[1:] if t is not None]
    return 1.0 - statistics.median(later) / ttfts[0] if later else None


async def _run(args: argparse.Namespace) -> int:
    urls = {"kv": args.frontend_url}
    if args.baseline_url:
        urls["round-robin"] = args.baseline_url
    rng = random.Random()
    results: dict[str, list[float | None]] = {}
    for router, url in urls.items():
        async with make_client(url, max_connections=4, read_timeout=args.timeout) as client:
            try:
                model = args.model or await _discover_model(client)
            except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
                print(f"[{router}] {url}: cannot list models ({type(exc).__name__}: {exc}); pass --model")
                return EXIT_FAILED
            print(f"[{router}] {url} model={model}")
            single = await stream_chat(
                client,
                model=model,
                messages=[{"role": "user", "content": "In one sentence, what is a KV cache?"}],
                max_tokens=args.max_tokens,
                timeout_s=args.timeout,
            )
            if not single.ok:
                print(f"  chat completion FAILED: {single.error_kind}: {single.error}")
                return EXIT_FAILED
            print(f"  chat completion ok: TTFT {single.ttft_s * 1000:.1f} ms, {single.completion_tokens} tokens: {single.text[:80]!r}")
            print(f"  {args.turns}-turn conversation (opening ~{args.opening_tokens} tokens):")
            try:
                results[router] = await _conversation(client, model, args, rng)
            except RuntimeError as exc:
                print(f"  conversation FAILED: {exc}")
                return EXIT_FAILED

    print("\nTTFT per turn (ms)")
    print("turn  " + "  ".join(f"{r:>12}" for r in results))
    for i in range(args.turns):
        print(f"{i + 1:>4}  " + "  ".join(f"{(v[i] or 0):12.1f}" for v in results.values()))
    for router, ttfts in results.items():
        drop = _drop(ttfts)
        print(f"{router}: turns 2+ median vs turn 1: " + ("n/a" if drop is None else f"{drop * 100:.0f}% drop"))
    kv_drop = _drop(results["kv"])
    if kv_drop is None or kv_drop < args.min_drop:
        print(f"FAIL: KV router shows no TTFT drop on turn 2+ (needs >= {args.min_drop * 100:.0f}%)")
        return EXIT_NO_DROP
    print("PASS: KV router TTFT drops on turn 2+")
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    """Exit code: 0 pass, 1 KV shows no TTFT drop, 2 a request failed."""
    return asyncio.run(_run(args))
