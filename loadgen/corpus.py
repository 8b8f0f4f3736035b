"""The bundled, original corpus: chat passages, long documents composed from them, and reasoning prompts."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

CHARS_PER_TOKEN = 4.0  # No tokenizer ships with the service; ~4 characters per Llama token for English prose.


def estimate_tokens(text: str) -> int:
    """Approximate Llama-3 token count of English text."""
    return max(1, round(len(text) / CHARS_PER_TOKEN))


class _Text:
    """Anything with a `text`, sized in (estimated) tokens."""

    text: str

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)


@dataclass(frozen=True)
class Passage(_Text):
    id: str
    topic: str
    title: str
    text: str


@dataclass(frozen=True)
class Document(_Text):
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Prompt:
    id: str
    prompt: str
    category: str
    expected_output_length: int


def _read_jsonl(name: str) -> list[dict]:
    text = resources.files("loadgen.data").joinpath(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _compose(spec: dict, passages: list[Passage]) -> Document:
    """A handbook-style document: intro, then passages on its topics first, then related ones, up to the token target."""
    wanted = spec["topics"]
    ordered = sorted(passages, key=lambda p: (wanted.index(p.topic) if p.topic in wanted else len(wanted), p.id))
    parts = [f"# {spec['title']}", spec["intro"]]
    budget = spec["target_tokens"] - estimate_tokens(spec["closing"])
    section = 0
    for passage in ordered:
        block = f"## {section + 1}. {passage.title}\n\n{passage.text}"
        if estimate_tokens("\n\n".join(parts + [block])) > budget:
            continue
        parts.append(block)
        section += 1
    parts.append("## Closing notes\n\n" + spec["closing"])
    return Document(id=spec["id"], title=spec["title"], text="\n\n".join(parts))


class Corpus:
    """Read-only corpus with helpers that pick openings and prompts."""

    def __init__(self, passages: list[Passage], documents: list[Document], prompts: list[Prompt]) -> None:
        self.passages = passages
        self.documents = documents
        self.prompts = prompts

    @classmethod
    def load(cls) -> Corpus:
        passages = [Passage(p["id"], p["topic"], p["title"], p["text"]) for p in _read_jsonl("chat_passages.jsonl")]
        specs = _read_jsonl("documents.jsonl")
        documents = [_compose(spec, passages) for spec in specs]
        prompts = [Prompt(p["id"], p["prompt"], p["category"], p["expected_output_length"]) for p in _read_jsonl("reasoning_prompts.jsonl")]
        return cls(passages, documents, prompts)

    def opening(self, rng: random.Random, target_tokens: int | None) -> tuple[str, str, str]:
        """(text, source id, topic) for a chat's first message: one passage, or a document cut to ~target_tokens."""
        if target_tokens is None or target_tokens <= 500:
            passage = rng.choice(self.passages)
            text = passage.text
            if target_tokens is not None and passage.tokens > target_tokens:
                text = _cut(text, target_tokens)
            return text, passage.id, passage.topic
        fitting = [d for d in self.documents if d.tokens >= target_tokens]
        if fitting:
            doc = rng.choice(fitting)
            return _cut(doc.text, target_tokens), doc.id, doc.title
        # Longer than any document: chain documents, starting from a random one.
        start = rng.randrange(len(self.documents))
        chain = [self.documents[(start + i) % len(self.documents)].text for i in range(len(self.documents))]
        text = "\n\n".join(chain)
        while estimate_tokens(text) < target_tokens:
            text = text + "\n\n" + text
        return _cut(text, target_tokens), self.documents[start].id, self.documents[start].title

    def document(self, rng: random.Random) -> Document:
        return rng.choice(self.documents)

    def prompt(self, rng: random.Random) -> Prompt:
        return rng.choice(self.prompts)


def _cut(text: str, target_tokens: int) -> str:
    """Trim to about target_tokens, at a paragraph or sentence boundary when one is near."""
    limit = int(target_tokens * CHARS_PER_TOKEN)
    if len(text) <= limit:
        return text
    head = text[:limit]
    for sep in ("\n\n", ". "):
        at = head.rfind(sep)
        if at > limit * 0.8:
            return head[: at + (1 if sep == ". " else 0)]
    return head


@cache
def default_corpus() -> Corpus:
    """The bundled corpus, parsed once per process."""
    return Corpus.load()
