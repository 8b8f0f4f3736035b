"""Follow-up questions for chat turns 2+: DO Serverless Inference when a key is set, built-in templates otherwise."""

from __future__ import annotations

import logging
import random
import time

import httpx

from .metrics import Metrics

log = logging.getLogger("loadgen.followups")

TEMPLATES = (
    "Can you go deeper on the part about {topic}? What is the most common mistake teams make there?",
    "How would this change if the cluster had twice as many GPUs?",
    "What metrics would you watch in production to know whether this is working?",
    "Can you give a concrete example with numbers?",
    "What are the trade-offs compared with the simplest alternative?",
    "How does this interact with KV-cache reuse across turns of a conversation?",
    "If latency suddenly doubled, where would you look first?",
    "How would you explain this to someone who has only used a hosted API?",
    "Which part of this is most sensitive to prompt length?",
    "What would you configure differently for a 70B model compared with an 8B model?",
    "Summarise the key point in two sentences, then list three follow-up experiments.",
    "What failure modes should an on-call engineer expect here?",
    "How does Kubernetes scheduling affect this in practice?",
    "Is there anything here that would behave differently under heavy load?",
    "What is one thing about {topic} that surprises people the first time?",
    "How would you test this before a live demo?",
    "Which assumptions in your answer are the weakest?",
    "Can you compare this with how round-robin load balancing would handle it?",
    "What does this cost, roughly, in GPU memory?",
    "What should be measured first when tuning {topic}?",
)

SYSTEM = (
    "You write the next question a curious infrastructure engineer would ask in a chat about LLM serving. "
    "Reply with one question only, under 30 words, no preamble."
)


class FollowupWriter:
    """Writes turn 2+ questions; never blocks a conversation longer than its timeout."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        api_key: str | None,
        base_url: str,
        model: str,
        timeout_s: float,
        rng: random.Random | None = None,
        cooldown_s: float = 30.0,
    ) -> None:
        self.metrics = metrics
        self.model = model
        self.timeout_s = timeout_s
        self.rng = rng or random.Random()
        self.cooldown_s = cooldown_s
        self._suspended_until = 0.0
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s) if api_key else None
        self.fallbacks = 0
        self.remote = 0

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def template(self, topic: str) -> str:
        return self.rng.choice(TEMPLATES).format(topic=topic)

    async def next_question(self, topic: str, last_answer: str) -> tuple[str, str]:
        """(question, source) where source is 'gradient' or 'template'."""
        if self._client is not None and time.monotonic() >= self._suspended_until:
            try:
                question = await self._ask_remote(topic, last_answer)
                self.remote += 1
                self.metrics.followups.labels(source="gradient").inc()
                return question, "gradient"
            except Exception as exc:  # noqa: BLE001 - any failure or slowness: fall back, pause remote calls briefly
                self._suspended_until = time.monotonic() + self.cooldown_s
                log.warning("follow-up API failed (%s); using templates for %.0f s", type(exc).__name__, self.cooldown_s)
        self.fallbacks += 1
        self.metrics.followup_fallbacks.inc()
        self.metrics.followups.labels(source="template").inc()
        return self.template(topic), "template"

    async def _ask_remote(self, topic: str, last_answer: str) -> str:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Topic: {topic}\n\nLast answer:\n{last_answer[-1500:]}\n\nNext question:"},
            ],
            "max_tokens": 60,
            "temperature": 0.9,
        }
        response = await self._client.post("/chat/completions", json=body)
        response.raise_for_status()
        text = (response.json()["choices"][0]["message"]["content"] or "").strip().strip('"')
        if not text:
            raise ValueError("empty follow-up")
        return text

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
