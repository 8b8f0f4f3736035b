"""The bundled long-context corpus (real, permissively licensed documents and source files) and reasoning prompts.

Why long documents: KV-aware routing saves the prefill of a conversation's history, so it shows where
each turn resends thousands of tokens (chats over a document or a code file). `data/corpus.jsonl` is
written by `python -m loadgen.build_corpus`; `data/CORPUS.md` lists every source and its licence.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

DEFAULT_CHARS_PER_TOKEN = 4.0  # English prose with Llama 3; documents carry their own measured ratio


def estimate_tokens(text: str, chars_per_token: float = DEFAULT_CHARS_PER_TOKEN) -> int:
    """Approximate token count of `text`."""
    return max(1, round(len(text) / chars_per_token))


@dataclass(frozen=True)
class Document:
    id: str
    kind: str  # code | doc
    title: str
    source: str
    license: str
    chars_per_token: float
    text: str

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text, self.chars_per_token)


@dataclass(frozen=True)
class Prompt:
    id: str
    prompt: str
    category: str
    expected_output_length: int


@dataclass(frozen=True)
class Opening:
    """What a conversation is about: the text pasted in turn 1, where it came from, and what to ask about it."""

    text: str
    document: Document
    tokens: int  # estimated
    anchors: tuple[str, ...]  # function/class names or section headings found in `text`

    @property
    def kind(self) -> str:
        return self.document.kind

    @property
    def title(self) -> str:
        return self.document.title


_CODE_ANCHOR = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]{2,})", re.M)
_DOC_ANCHOR = re.compile(r"^#{1,4}\s+(.{4,80})$", re.M)


def anchors_in(text: str, kind: str, limit: int = 24) -> tuple[str, ...]:
    """Names a follow-up question can point at: public functions/classes in code, headings in prose."""
    if kind == "code":
        names = [n for n in _CODE_ANCHOR.findall(text) if not n.startswith("__")]
    else:
        names = [h.strip().strip("`*") for h in _DOC_ANCHOR.findall(text)]
    return tuple(dict.fromkeys(names))[:limit]


def _read_jsonl(name: str) -> list[dict]:
    text = resources.files("loadgen.data").joinpath(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _cut(text: str, limit_chars: int) -> str:
    """At most `limit_chars`, ending at a line (or paragraph) boundary when one is near."""
    if len(text) <= limit_chars:
        return text
    head = text[:limit_chars]
    at = head.rfind("\n")
    return head[: at + 1] if at > limit_chars * 0.8 else head


class Corpus:
    """Read-only corpus; picks conversation openings and prompts."""

    def __init__(self, documents: list[Document], prompts: list[Prompt]) -> None:
        self.documents = documents
        self.prompts = prompts

    @classmethod
    def load(cls) -> Corpus:
        documents = [Document(d["id"], d["kind"], d["title"], d["source"], d["license"], d["chars_per_token"], d["text"]) for d in _read_jsonl("corpus.jsonl")]
        prompts = [Prompt(p["id"], p["prompt"], p["category"], p["expected_output_length"]) for p in _read_jsonl("reasoning_prompts.jsonl")]
        return cls(documents, prompts)

    def opening(self, rng: random.Random, target_tokens: int, scale: TokenScale | None = None) -> Opening:
        """One document (its start) cut to ~target_tokens; two documents back to back when one is too short.

        `scale` corrects the stored chars-per-token (measured with the rehearsal's tokenizer) to the
        served model's tokenizer, learned from the server's usage reports.
        """
        doc = rng.choice(self.documents)
        cpt = doc.chars_per_token * (scale.of(doc.kind) if scale is not None else 1.0)
        text = doc.text
        if estimate_tokens(text, cpt) < target_tokens:
            other = self.documents[(self.documents.index(doc) + 1 + rng.randrange(len(self.documents) - 1)) % len(self.documents)]
            text = f"{text}\n\n# Next file: {other.title}\n\n{other.text}"
        text = _cut(text, int(target_tokens * cpt))
        return Opening(text=text, document=doc, tokens=estimate_tokens(text, cpt), anchors=anchors_in(text, doc.kind))

    def document(self, rng: random.Random) -> Document:
        return rng.choice(self.documents)

    def prompt(self, rng: random.Random) -> Prompt:
        return rng.choice(self.prompts)


class TokenScale:
    """Learns how the served tokenizer counts our text relative to the stored estimate (per kind).

    Why: the corpus's chars-per-token were measured with the rehearsal's small tokenizer; Llama 3's
    128k-token vocabulary packs code about twice as densely. Each turn-1 usage report (prompt tokens
    for a known number of characters) moves the factor, so openings hit their token target on any stack.
    """

    def __init__(self, weight: float = 0.2) -> None:
        self.weight = weight
        self.factor = {"code": 1.0, "doc": 1.0}

    def observe(self, kind: str, estimated_tokens: int, reported_tokens: int | None) -> None:
        if not reported_tokens or estimated_tokens <= 0:
            return
        ratio = min(4.0, max(0.25, estimated_tokens / reported_tokens))
        self.factor[kind] = (1 - self.weight) * self.factor.get(kind, 1.0) + self.weight * self.factor.get(kind, 1.0) * ratio

    def of(self, kind: str) -> float:
        return self.factor.get(kind, 1.0)


@cache
def default_corpus() -> Corpus:
    """The bundled corpus, parsed once per process."""
    return Corpus.load()
