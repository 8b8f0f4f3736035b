"""The bundled corpus meets the brief: 50+ chat passages of 250-500 tokens, 10 long documents of 4-16k, 20 prompts."""

from __future__ import annotations

import random

import pytest

from loadgen.corpus import default_corpus, estimate_tokens

TOPICS = {"gpu-architecture", "llm-serving", "kv-cache", "routing", "kubernetes", "observability", "decoding", "operations"}


def test_chat_passages():
    passages = default_corpus().passages
    assert len(passages) >= 50
    assert len({p.id for p in passages}) == len(passages)
    assert len({p.text for p in passages}) == len(passages)
    assert {p.topic for p in passages} == TOPICS
    for p in passages:
        assert 250 <= p.tokens <= 500, (p.id, p.tokens)


def test_long_documents():
    docs = default_corpus().documents
    assert len(docs) == 10
    for d in docs:
        assert 4000 <= d.tokens <= 16000, (d.id, d.tokens)
        assert d.text.startswith("# ") and "## Closing notes" in d.text
    assert max(d.tokens for d in docs) > 15000 and min(d.tokens for d in docs) < 5000


def test_reasoning_prompts():
    prompts = default_corpus().prompts
    assert len(prompts) == 20 and len({p.prompt for p in prompts}) == 20
    assert all(p.expected_output_length >= 500 for p in prompts)


@pytest.mark.parametrize("target", [None, 300, 1000, 4000, 12000, 30000])
def test_opening_length_follows_the_target(target):
    text, source, topic = default_corpus().opening(random.Random(1), target)
    assert source and topic
    tokens = estimate_tokens(text)
    if target is None:
        assert 250 <= tokens <= 500
    else:
        assert 0.8 * target <= tokens <= target * 1.01
