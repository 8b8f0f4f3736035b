"""Minimal multi-turn chat driver for the benchmark (the booth uses loadgen/).

Why our own: the sweep needs exact opening lengths in the served tokenizer's
tokens and hundreds of short runs without a UI. It keeps the load generator's
traffic shape: conversation starts are a Poisson process at rps / turns, a
think time separates turns, at most `max_concurrency` conversations are active
(later arrivals wait for a slot), and each turn's record has the load
generator's fields, so rehearsal.turn_stats reads both.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from tokenizers import Tokenizer

from loadgen.upstream.client import ack_now
from rehearsal.settings import MODEL_NAME, TOKENIZER_DIR

CORPUS = Path(__file__).resolve().parent.parent / "rehearsal" / "tokenizer_corpus.txt"
FOLLOWUPS = (
    "Can you give a concrete example with numbers?",
    "What are the trade-offs compared with the simplest alternative?",
    "How would this change if the cluster had twice as many GPUs?",
    "Which part of this is most sensitive to prompt length?",
    "What would you measure first in production?",
)


@dataclass(frozen=True)
class Workload:
    conversations: int = 16
    turns: int = 4
    opening_tokens: int = 3000
    rps: float = 2.0  # requests per second; conversations start at rps / turns
    max_concurrency: int = 10
    think_ms: tuple[int, int] = (1000, 3000)
    max_tokens: int = 64
    seed: int = 1
    timeout_s: float = 120.0


@dataclass
class TurnRecord:
    conversation: str
    turn: int
    router: str
    ttft_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    error: str | None = None


class OpeningWriter:
    """Distinct openings of an exact token length (no prefix shared across conversations)."""

    def __init__(self, seed: int) -> None:
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER_DIR / "tokenizer.json"))
        self.words = CORPUS.read_text().split()
        self.rng = random.Random(seed)

    def write(self, tokens: int, tag: str) -> str:
        words = [f"Conversation {tag}:"]
        while len(self.tokenizer.encode(" ".join(words)).ids) < tokens:
            words.extend(self.rng.choice(self.words) for _ in range(max(8, (tokens // 3) // 4)))
        ids = self.tokenizer.encode(" ".join(words)).ids[:tokens]
        return self.tokenizer.decode(ids)


async def _stream_turn(client: httpx.AsyncClient, url: str, messages: list[dict], max_tokens: int,
                       record: TurnRecord) -> str:
    body = {"model": MODEL_NAME, "messages": messages, "max_tokens": max_tokens, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": True}
    start = time.perf_counter()
    stamps: list[float] = []
    text: list[str] = []
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        ack_now(response)  # as the load generator does: no delayed-ACK stall on the first token
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            usage = chunk.get("usage")
            if usage:
                record.prompt_tokens = usage.get("prompt_tokens", 0)
                record.completion_tokens = usage.get("completion_tokens", 0)
                record.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    stamps.append(time.perf_counter())
                    text.append(piece)
    end = time.perf_counter()
    if stamps:
        record.ttft_ms = (stamps[0] - start) * 1000
        if len(stamps) > 1:
            record.itl_ms = (stamps[-1] - stamps[0]) / (len(stamps) - 1) * 1000
    record.e2e_ms = (end - start) * 1000
    return "".join(text)


async def _conversation(client, url, router, workload, opening, conv_id, rng, slots, records) -> None:
    async with slots:
        messages = [{"role": "user", "content": opening}]
        for turn in range(1, workload.turns + 1):
            record = TurnRecord(conversation=conv_id, turn=turn, router=router)
            records.append(record)
            try:
                reply = await _stream_turn(client, url, messages, workload.max_tokens, record)
            except (httpx.HTTPError, json.JSONDecodeError) as error:
                record.error = f"{type(error).__name__}: {error}"
                return
            messages.append({"role": "assistant", "content": reply})
            if turn < workload.turns:
                messages.append({"role": "user", "content": rng.choice(FOLLOWUPS)})
                await asyncio.sleep(rng.uniform(*workload.think_ms) / 1000)


async def drive(url: str, router: str, workload: Workload, tag: str = "") -> list[TurnRecord]:
    """Run the workload against one frontend; returns one record per attempted turn."""
    rng = random.Random(workload.seed)
    writer = OpeningWriter(workload.seed)
    openings = [writer.write(workload.opening_tokens, f"{tag}{router}-{i}") for i in range(workload.conversations)]
    records: list[TurnRecord] = []
    slots = asyncio.Semaphore(workload.max_concurrency)
    conv_rate = workload.rps / workload.turns
    limits = httpx.Limits(max_connections=workload.max_concurrency + 4)
    async with httpx.AsyncClient(timeout=workload.timeout_s, limits=limits) as client:
        tasks = []
        for i, opening in enumerate(openings):
            if i:
                await asyncio.sleep(rng.expovariate(conv_rate))
            conv_rng = random.Random(rng.random())
            tasks.append(asyncio.create_task(_conversation(
                client, url, router, workload, opening, f"{tag}{router}-{i}", conv_rng, slots, records)))
        await asyncio.gather(*tasks)
    return records


def as_dicts(records: list[TurnRecord]) -> list[dict]:
    return [asdict(r) for r in records]
