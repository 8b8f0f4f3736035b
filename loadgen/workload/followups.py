"""Follow-up questions for chat turns 2+: DO Serverless Inference when a key is set, built-in templates otherwise."""

from __future__ import annotations

import logging
import random
import time

import httpx

from loadgen.metrics import Metrics

log = logging.getLogger("loadgen.workload.followups")

# Short follow-ups about the pasted context, as a reader of that document or file would ask them.
# {name} is a function/class (code) or a section heading (docs) found in the opening.
CODE_TEMPLATES = (
    "What does `{name}` do, and what does it return?",
    "Is there an edge case `{name}` does not handle?",
    "How would you write a unit test for `{name}`?",
    "Where is `{name}` used in this file, and why?",
    "Summarise what this file is responsible for in three sentences.",
    "Which part of this code would you refactor first, and how?",
    "What happens in `{name}` when its input is empty or invalid?",
    "Does anything in `{name}` block the event loop or hold a lock for long?",
)
DOC_TEMPLATES = (
    "What does the section '{name}' say, in two sentences?",
    "What would I need to configure to do what '{name}' describes?",
    "What limitations or caveats does this document mention?",
    "Turn the part about '{name}' into a short checklist.",
    "Which part of this document matters most for running it in production?",
    "Is there anything in '{name}' that contradicts another section?",
)
GENERIC = "Can you summarise the key point of that answer in two sentences?"


def template_question(kind: str, anchors: tuple[str, ...], rng: random.Random) -> str:
    """A follow-up about the document: one template, one anchor from the opening."""
    templates = CODE_TEMPLATES if kind == "code" else DOC_TEMPLATES
    template = rng.choice(templates)
    if "{name}" in template and not anchors:
        return GENERIC
    return template.format(name=rng.choice(anchors) if anchors else "")


SYSTEM = (
    "You write the next short question a developer would ask about the document or source file under discussion. "
    "Reply with one question only, under 25 words, no preamble."
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

    async def next_question(self, kind: str, title: str, anchors: tuple[str, ...], last_answer: str, rng: random.Random | None = None) -> tuple[str, str]:
        """(question, source) where source is 'gradient' or 'template'; `rng` makes template choices replayable."""
        if self._client is not None and time.monotonic() >= self._suspended_until:
            try:
                question = await self._ask_remote(title, anchors, last_answer)
                self.remote += 1
                self.metrics.followups.labels(source="gradient").inc()
                return question, "gradient"
            except Exception as exc:  # noqa: BLE001 - any failure or slowness: fall back, pause remote calls briefly
                self._suspended_until = time.monotonic() + self.cooldown_s
                log.warning("follow-up API failed (%s); using templates for %.0f s", type(exc).__name__, self.cooldown_s)
        self.fallbacks += 1
        self.metrics.followup_fallbacks.inc()
        self.metrics.followups.labels(source="template").inc()
        return template_question(kind, anchors, rng or self.rng), "template"

    async def _ask_remote(self, title: str, anchors: tuple[str, ...], last_answer: str) -> str:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Document: {title}\nIt mentions: {', '.join(anchors[:12])}\n\nLast answer:\n{last_answer[-1500:]}\n\nNext question:"},
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
