"""Runs one session of each workload (A chat, B summarisation, C reasoning) and records every request it makes."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter as Tally
from dataclasses import dataclass

from loadgen.workload.conversations import Conversation, TurnRecord
from loadgen.workload.corpus import Corpus, Opening, TokenScale, estimate_tokens
from loadgen.workload.followups import FollowupWriter
from loadgen.metrics import Metrics, turn_label
from loadgen.schemas import WorkloadConfig
from loadgen.stats.window import LiveStats, Sample
from loadgen.upstream.client import ClientPool, stream_chat

SYSTEM_PROMPT = "You are a concise, accurate assistant for software engineers. Answer questions about the text the user shares, in plain prose."
# The session id comes first, so two conversations never share a KV prefix beyond the system prompt,
# even when they paste the same document (A/B twins do: see ChatPlan).
CHAT_OPENING = "[session {sid}] Here is {what}: {title}. Read it, then tell me what it does and what to watch out for.\n\n{text}"
TEMPLATE_TOKENS_PER_MESSAGE = 5  # Llama 3 chat template: header and end-of-turn tokens around each message
SUMMARY_PROMPT = "Summarise the following document in five short bullet points.\n\n{text}"
SUMMARY_MAX_TOKENS = 200
REASONING_MAX_TOKENS = 1024


@dataclass(frozen=True)
class ChatPlan:
    """One conversation's script. In A/B mode the engine replays each plan once per router, so both
    frontends get the same documents, turn counts, think times and questions (equal offered load)."""

    opening: Opening
    turns: int
    think_s: tuple[float, ...]  # pause before turns 2..n
    seed: int  # follow-up question choices


def chat_opening(sid: str, opening: Opening) -> str:
    what = "a source file" if opening.kind == "code" else "some documentation"
    return CHAT_OPENING.format(sid=sid, what=what, title=opening.title, text=opening.text)


class SessionRunner:
    """Executes sessions against the frontend clients and feeds metrics, live stats and the store's records."""

    def __init__(
        self,
        *,
        clients: dict[str, ClientPool],
        model: str,
        corpus: Corpus,
        followups: FollowupWriter,
        metrics: Metrics,
        stats: LiveStats,
        timeout_s: float,
        rng: random.Random,
    ) -> None:
        self.clients = clients
        self.model = model
        self.corpus = corpus
        self.followups = followups
        self.metrics = metrics
        self.stats = stats
        self.timeout_s = timeout_s
        self.rng = rng
        self.tally: Tally[str] = Tally()
        self.errors_by_kind: Tally[str] = Tally()
        self.inflight: Tally[str] = Tally()
        self.ttft_timeout_s: float | None = None
        self.health: dict = {}  # router -> UpstreamHealth (loadgen.upstream.health), fed after every request
        self.token_scale = TokenScale()
        self.workers = WorkerNames()
        self.on_turn = None  # optional callback(TurnRecord, Conversation): per-request events

    def plan(self, config: WorkloadConfig) -> ChatPlan:
        """A fresh conversation script drawn from the corpus."""
        rng = self.rng
        opening = self.corpus.opening(rng, config.opening_tokens(), self.token_scale)
        turns = rng.randint(config.turns.min, config.turns.max)
        think = tuple(rng.uniform(config.thinkTimeMs.min, config.thinkTimeMs.max) / 1000.0 for _ in range(turns - 1))
        return ChatPlan(opening=opening, turns=turns, think_s=think, seed=rng.randrange(2**31))

    async def run(self, conv: Conversation, config: WorkloadConfig) -> str:
        """Run the session to its end; returns the outcome (completed|error)."""
        conv.client = self.clients[conv.router].pick()
        if conv.workload == "chat":
            return await self._chat(conv, config)
        if conv.workload == "summarization":
            doc = self.corpus.document(self.rng)
            conv.source = doc.id
            conv.messages.append({"role": "user", "content": SUMMARY_PROMPT.format(text=doc.text)})
            ok = await self._request(conv, 1, SUMMARY_MAX_TOKENS, "document")
            return "completed" if ok else "error"
        prompt = self.corpus.prompt(self.rng)
        conv.source = prompt.id
        conv.messages.append({"role": "user", "content": prompt.prompt})
        ok = await self._request(conv, 1, min(REASONING_MAX_TOKENS, prompt.expected_output_length), "prompt")
        return "completed" if ok else "error"

    async def _chat(self, conv: Conversation, config: WorkloadConfig) -> str:
        plan: ChatPlan = conv.plan or self.plan(config)
        opening = plan.opening
        conv.source = opening.document.id
        conv.messages.append({"role": "system", "content": SYSTEM_PROMPT})
        conv.messages.append({"role": "user", "content": chat_opening(conv.id, opening)})
        questions = random.Random(plan.seed)
        question_source = "opening"
        for turn in range(1, conv.planned_turns + 1):
            if turn > 1:
                think = plan.think_s[turn - 2] if turn - 2 < len(plan.think_s) else 0.0
                if think > 0:
                    await asyncio.sleep(think)
                question, question_source = await self.followups.next_question(
                    opening.kind, opening.title, opening.anchors, conv.messages[-1]["content"], questions
                )
                conv.messages.append({"role": "user", "content": question})
            if not await self._request(conv, turn, config.maxTokens, question_source):
                return "error"
            if turn == 1:
                self._learn_tokens(conv, opening)
        return "completed"

    def _learn_tokens(self, conv: Conversation, opening: Opening) -> None:
        """Teach TokenScale how the served tokenizer counts this kind of text (turn 1: opening + template)."""
        reported = conv.turns[-1].prompt_tokens if conv.turns else None
        cpt = opening.document.chars_per_token * self.token_scale.of(opening.kind)
        estimated = sum(estimate_tokens(m["content"], cpt) + TEMPLATE_TOKENS_PER_MESSAGE for m in conv.messages[:2])
        self.token_scale.observe(opening.kind, estimated, reported)

    async def _request(self, conv: Conversation, turn: int, max_tokens: int, question_source: str) -> bool:
        """One streamed completion with the whole history; appends the answer on success."""
        router = conv.router
        started_at = time.time()
        self.inflight[router] += 1
        self.metrics.inflight.labels(router=router).inc()
        health = self.health.get(router)
        ticket = health.begin() if health is not None else None
        try:
            result = await stream_chat(
                conv.client, model=self.model, messages=conv.messages, max_tokens=max_tokens, timeout_s=self.timeout_s,
                ttft_timeout_s=self.ttft_timeout_s, on_first_token=(lambda: health.first_token(ticket)) if health is not None else None,
            )
        finally:
            self.inflight[router] -= 1
            self.metrics.inflight.labels(router=router).dec()
            if health is not None:
                health.end(ticket)
        record = TurnRecord.from_result(
            conversation_id=conv.id, turn=turn, router=router, workload=conv.workload, started_at=started_at, result=result, question_source=question_source
        )
        record.worker = self.workers.name(result.worker_id)
        conv.turns.append(record)
        if router in self.health:
            self.health[router].record(result.ok, result.error_kind, result.error)
        self._observe(conv.workload, router, turn, record)
        if self.on_turn is not None:
            self.on_turn(record, conv)
        if result.ok:
            conv.messages.append({"role": "assistant", "content": result.text})
        return result.ok

    def _observe(self, workload: str, router: str, turn: int, rec: TurnRecord) -> None:
        m, label = self.metrics, turn_label(turn)
        ok = rec.error is None
        m.requests.labels(workload=workload, router=router, status="ok" if ok else "error").inc()
        self.tally["requests_ok" if ok else "requests_error"] += 1
        if not ok:
            m.errors.labels(workload=workload, router=router, kind=rec.error_kind).inc()
            self.errors_by_kind[rec.error_kind] += 1
        else:
            if rec.ttft_ms is not None:
                m.ttft.labels(workload=workload, router=router, turn=label).observe(rec.ttft_ms / 1000.0)
            if rec.itl_ms is not None:
                m.itl.labels(workload=workload, router=router, turn=label).observe(rec.itl_ms / 1000.0)
            m.duration.labels(workload=workload, router=router, turn=label).observe(rec.e2e_ms / 1000.0)
            if rec.prompt_tokens is not None:
                m.prompt_tokens.labels(router=router, turn=label).inc(rec.prompt_tokens)
            if rec.cached_tokens is not None:
                m.cached_tokens.labels(router=router, turn=label).inc(rec.cached_tokens)
            if rec.completion_tokens:
                m.completion_tokens.labels(workload=workload, router=router).inc(rec.completion_tokens)
        self.stats.add(
            Sample(
                t=time.monotonic(),
                workload=workload,
                router=router,
                turn=label,
                ok=ok,
                ttft_ms=rec.ttft_ms,
                itl_ms=rec.itl_ms,
                cached=rec.cached_tokens,
                prompt=rec.prompt_tokens,
                conversation=rec.conversation_id,
                turn_no=turn,
                worker=rec.worker,
                server_ttft_ms=rec.server_ttft_ms,
            )
        )


class WorkerNames:
    """Short, stable names (W1, W2, ...) for Dynamo's 64-bit worker ids, in order of first appearance."""

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._names: dict[int, str] = {}

    def name(self, worker_id: int | None) -> str | None:
        if worker_id is None:
            return None
        if worker_id not in self._names:
            if len(self._names) >= self.limit:  # workers restarted many times: start over rather than grow
                self._names.clear()
            self._names[worker_id] = f"W{len(self._names) + 1}"
        return self._names[worker_id]
